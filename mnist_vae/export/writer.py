"""Export a run's generative model as a TensorFlow SavedModel or a TFLite flatbuffer.

The export needs TensorFlow alone to serve: no mnist-vae, no custom Keras classes.
Signatures (images are float32 in [0, 1], shaped [batch, 28, 28, 1]; batch is free):

    encode(images)            -> mean, log_variance      [batch, latent]
    decode(z)                 -> images
    reconstruct(images)       -> images                  (also serving_default)
    sample(count, seed)       -> images                  (the model's own prior; the same seed
                                                          gives the same images as model.sample
                                                          and mnist-vae sample)
    sample_NAME(count, seed)  -> images, z               (one per latent sampler fitted to the
                                                          run so far, e.g. sample_gmm; the same
                                                          seed gives the same images as
                                                          mnist-vae sample --sampler NAME)
    metadata()                -> config, metrics, latent, samplers (JSON strings)

``encode`` returns the model's ``posterior_parameters`` (mean and log_variance for
Gaussian posteriors). Conditional (cvae) runs add an int32 ``labels`` input [batch]
to encode, decode and reconstruct, and sample takes ``labels`` (one per image)
instead of ``count``.
The run's config.json, metrics.json and latent.json also travel as assets, with the
model's Keras configuration (``model.json``) and the run's fitted samplers
(``samplers/NAME``): what ``mnist-vae sample --saved-model`` rebuilds the model from,
never running the export's graph (``mnist_vae.export.reader``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from mnist_vae.config import EXPORT_FORMATS, IMAGE_SHAPE
from mnist_vae.declarations import REQUIRED, option, overwrite_setting
from mnist_vae.errors import RunError, UsageError, first_line
from mnist_vae.io import staged_dir
from mnist_vae.progress import task
from mnist_vae.runs import Run

FORMATS = EXPORT_FORMATS
TFLITE_SIGNATURES = ("decode", "sample")
SAMPLER_SIGNATURE = "sample_{}"
MODEL_CONFIG = "model.json"  # in assets/: the model's Keras configuration
SAMPLERS = "samplers"  # in assets/: the fitted samplers, as the run keeps them
CHECKSUMS = "checksums.json"  # in assets/: the SHA-256 of each file the reader reads
CHECKED_FOLDERS = ("assets", "variables")  # what the reader rebuilds the model from


@dataclass(frozen=True)
class ExportRequest:
    """What ``mnist-vae export`` is asked: the run, the folder and the format. The
    command's argument and flags are these fields, declared here once."""

    run: str = option(REQUIRED, "The run to export.", path="folder", argument=True)
    out: str = option(REQUIRED, "Folder to create.", path="folder")
    export_format: str = option(
        EXPORT_FORMATS[0],
        "savedmodel: every signature; tflite: model.tflite with decode, sample and each "
        "sample_NAME.",
        choices=EXPORT_FORMATS,
        flag="format",
    )
    overwrite: bool = overwrite_setting()


def export_request(request: ExportRequest) -> Path:
    """``mnist-vae export`` as one call: the run loaded and ``out`` checked before any
    work, then ``export_run``. Returns the folder written."""
    from mnist_vae.io import check_output_dir
    from mnist_vae.runs import load_run

    loaded = load_run(request.run)
    refuse_the_run_itself(loaded, request.out)  # the sharper message, before the kind's
    check_output_dir(request.out, overwrite=request.overwrite, kind="export")
    return export_run(
        loaded, request.out, format=request.export_format, overwrite=request.overwrite
    )


def refuse_the_run_itself(run: Run, out: str | Path) -> None:
    """A usage error when ``out`` is the run, a folder holding it, or a folder inside it
    (a run holding an export is no longer a run ``--overwrite`` may replace)."""
    target, source = Path(out).expanduser().resolve(), Path(run.path).resolve()
    if target == source or target in source.parents:
        raise UsageError(
            f"--out {out} would replace the run {run.path} itself; export it to "
            "a folder outside the run"
        )
    if source in target.parents:
        raise UsageError(
            f"--out {out} is inside the run {run.path}; export it to a folder outside the run"
        )


def export_run(
    run: Run, out: str | Path, *, format: str = "savedmodel", overwrite: bool = False
) -> Path:
    """Write ``run``'s export to ``out`` (a new or empty folder unless ``overwrite``)."""
    if format not in FORMATS:
        raise UsageError(f"unknown export format {format!r}; choose {' or '.join(FORMATS)}")
    out = Path(out).expanduser()
    refuse_the_run_itself(run, out)
    # Parts: loading the model, tracing and writing the SavedModel, converting to TFLite.
    parts = 2 if format == "savedmodel" else 3
    with task(f"exporting {run.path.name} ({format})", total=parts, unit="parts") as advance:
        model = run.load_model()
        advance(1)
        with staged_dir(out, overwrite=overwrite, kind="export") as stage:
            if format == "savedmodel":
                write_savedmodel(model, run, stage)
                advance(1)
            else:
                with tempfile.TemporaryDirectory(prefix="mnist-vae-export-") as scratch:
                    saved = Path(scratch) / "savedmodel"
                    write_savedmodel(model, run, saved)
                    advance(1)
                    names = [SAMPLER_SIGNATURE.format(n) for n in exported_samplers(model, run)]
                    write_tflite(saved, stage / "model.tflite", (*TFLITE_SIGNATURES, *names))
                    _copy_run_files(run, stage)
                    advance(1)
    return out


def exported_samplers(model, run: Run) -> list[str]:
    """The run's fitted latent samplers an export carries (none for conditional models)."""
    return [] if model.conditional else run.fitted_samplers()


def write_savedmodel(model, run: Run, path: Path) -> Path:
    """The SavedModel with every signature above, plus the run's JSON files as assets."""
    import keras
    import tensorflow as tf

    sampler_names = exported_samplers(model, run)
    metadata = {
        "config": json.dumps(run.record),
        "metrics": json.dumps(run.metrics),
        "latent": (run.path / "latent.json").read_text(),
        "samplers": json.dumps({name: run.sampler_record(name) for name in sampler_names}),
    }
    archive = keras.export.ExportArchive()
    archive.track(model)
    endpoints = _model_endpoints(model)
    draw_signature = [
        tf.TensorSpec([], tf.int32, name="count"),
        tf.TensorSpec([], tf.int32, name="seed"),
    ]
    for name in sampler_names:
        sampler = run.load_sampler(name)
        for trackable in sampler.trackables():  # e.g. the second stage's networks
            archive.track(trackable)
        endpoints[SAMPLER_SIGNATURE.format(name)] = (_sampler_draw(model, sampler), draw_signature)
    for name, (fn, signature) in endpoints.items():
        archive.add_endpoint(name=name, fn=fn, input_signature=signature)
    archive.add_endpoint(
        name="metadata",
        fn=lambda: {key: tf.constant(value) for key, value in metadata.items()},
        input_signature=[],
    )
    archive.write_out(str(path), verbose=False)
    _copy_run_files(run, path / "assets", rebuildable=True)
    write_checksums(path)
    return path


def checked_files(path: Path) -> dict[str, Path]:
    """What the reader rebuilds the model from, by its path in the export: every file in
    ``assets/`` and ``variables/`` but the checksum record itself, and every link to a
    folder there (an export has none; the reader would follow one, so it must count)."""
    path = Path(path)
    found = {}
    for folder in CHECKED_FOLDERS:
        for root, folders, files in os.walk(path / folder):  # links to folders not entered
            here = Path(root)
            entries = files + [name for name in folders if (here / name).is_symlink()]
            for name in entries:
                found[(here / name).relative_to(path).as_posix()] = here / name
    found.pop(f"assets/{CHECKSUMS}", None)
    return dict(sorted(found.items()))


def write_checksums(path: Path) -> None:
    """Record the SHA-256 of every file the reader reads (``assets/checksums.json``): a
    file changed after the export (an edited activation in ``model.json``, a truncated
    variables file) is then refused instead of silently drawing other images. Damage,
    not tampering: whoever edits a file can edit this record too."""
    from mnist_vae.io import sha256

    digests = {name: sha256(file) for name, file in checked_files(path).items()}
    text = json.dumps({"sha256": digests}, indent=1) + "\n"
    (Path(path) / "assets" / CHECKSUMS).write_text(text)


def _model_endpoints(model) -> dict:
    """The model's own signatures by name, as (function, input signature): reconstruct,
    encode, decode and sample, with a ``labels`` input for conditional models."""
    import tensorflow as tf

    images = tf.TensorSpec([None, *IMAGE_SHAPE], tf.float32, name="images")
    codes = tf.TensorSpec([None, *model.latent_shape], tf.float32, name="z")
    labels = tf.TensorSpec([None], tf.int32, name="labels")
    count_spec = tf.TensorSpec([], tf.int32, name="count")
    seed_spec = tf.TensorSpec([], tf.int32, name="seed")

    def decode(z, y=None):
        return {"images": model.decode(z, y)}

    if model.conditional:
        return {
            "reconstruct": (lambda x, y: {"images": model.reconstruct(x, y)}, [images, labels]),
            "encode": (lambda x, y: model.posterior_parameters(x, y), [images, labels]),
            "decode": (lambda z, y: decode(z, y), [codes, labels]),
            "sample": (
                lambda y, seed: {"images": model.sample(tf.shape(y)[0], seed, y)},
                [labels, seed_spec],
            ),
        }
    return {
        "reconstruct": (lambda x: {"images": model.reconstruct(x)}, [images]),
        "encode": (lambda x: model.posterior_parameters(x), [images]),
        "decode": (lambda z: decode(z), [codes]),
        "sample": (
            lambda count, seed: {"images": model.sample(count, seed)},
            [count_spec, seed_spec],
        ),
    }


def _sampler_draw(model, sampler):
    """The ``sample_NAME`` endpoint: codes from ``sampler``, decoded by ``model``."""
    import tensorflow as tf

    def draw(count, seed):
        z = tf.reshape(sampler.sample(count, seed), tf.stack([count, *model.latent_shape]))
        return {"images": model.decode(z), "z": z}

    return draw


def write_tflite(
    savedmodel: Path, path: Path, signatures: tuple[str, ...] = TFLITE_SIGNATURES
) -> Path:
    """A TFLite flatbuffer with the ``decode`` and ``sample`` (and ``sample_NAME``) signatures."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(
        str(savedmodel), signature_keys=list(signatures)
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # no Flex needed
    try:
        flatbuffer = converter.convert()
    except Exception as exc:
        raise RunError(f"TFLite conversion failed: {first_line(exc, limit=300)}") from None
    path.write_bytes(flatbuffer)
    return path


def _copy_run_files(run: Run, folder: Path, *, rebuildable: bool = False) -> None:
    """The run's JSON files; ``rebuildable``: also what rebuilds the model without the graph."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "metrics.json", "latent.json"):
        shutil.copyfile(run.path / name, folder / name)
    if not rebuildable:
        return
    with zipfile.ZipFile(run.path / "model.keras") as archive:  # the Keras configuration
        (folder / MODEL_CONFIG).write_bytes(archive.read("config.json"))
    for name in run.fitted_samplers():
        shutil.copytree(run.sampler_path(name), folder / SAMPLERS / name)
