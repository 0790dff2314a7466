"""Exports that serve with TensorFlow alone: the SavedModel and TFLite writer
(``writer``) and the reader that samples from one (``reader``)."""

from mnist_vae.export.reader import ExportedModel
from mnist_vae.export.writer import FORMATS, export_run, write_savedmodel, write_tflite

__all__ = ["FORMATS", "ExportedModel", "export_run", "write_savedmodel", "write_tflite"]
