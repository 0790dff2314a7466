"""Training: orchestration (``train``), the fit loop (``Fitter``), callbacks, precision
and tf.distribute set-ups (``distribution``)."""

from mnist_vae.training.fitter import Fitter
from mnist_vae.training.trainer import train

__all__ = ["Fitter", "train"]
