"""TensorBoard logs of a training run (``mnist-vae train --tensorboard DIR``).

Keras's own ``keras.callbacks.TensorBoard`` writes the per-epoch scalars: every
metric of the history, on the training set (``DIR/train``) and on the watched test
images (``DIR/validation``), and the learning rate at the epoch's end
(``epoch_learning_rate``, in ``DIR/train``). ``TensorBoardImages`` adds, every few
epochs and after the last, test images beside their reconstructions and samples from
the prior (``DIR/images``). Steps are epochs counted from 0, as Keras counts them.

The log is not part of the run's settings: a run trains, and resumes, the same with
or without it. ``tf.summary`` writes scalars and images only with the ``tensorboard``
package installed (``pip install 'mnist-vae[tensorboard]'``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from mnist_vae.config import TENSORBOARD_IMAGES_EVERY as IMAGES_EVERY
from mnist_vae.errors import UsageError

INSTALL = "pip install 'mnist-vae[tensorboard]'"
RECONSTRUCTED = 32  # test images shown beside their reconstructions, 8 pairs a row
PAIRS_PER_ROW = 8
SAMPLES = 100  # prior samples, 10 x 10
IMAGES_FOLDER = "images"


def require_tensorboard() -> None:
    """Fail in one line if the ``tensorboard`` package is missing (TensorFlow 2.21 no
    longer installs it, and ``tf.summary`` writes nothing useful without it)."""
    import importlib.util

    # Found, not imported: importing it imports TensorFlow, before its start-up notices
    # are silenced (mnist_vae.backend).
    if importlib.util.find_spec("tensorboard") is None:
        raise UsageError(f"--tensorboard needs the tensorboard package: {INSTALL}")


@dataclass(frozen=True)
class TensorBoardLog:
    """Where to write a TensorBoard log, and how often to add images.

    Made before any work: it needs the ``tensorboard`` package, a positive
    ``images_every`` and a ``log_dir`` that can be written (or created): found only
    when training starts, an unwritable one would fail the run after its stage was made.
    """

    log_dir: str | Path
    images_every: int = IMAGES_EVERY

    def __post_init__(self) -> None:
        every = self.images_every
        if not (isinstance(every, int) and not isinstance(every, bool) and every >= 1):
            raise UsageError(f"images_every must be a positive integer, got {every!r}")
        if not str(self.log_dir).strip():  # "" would log into the working folder itself
            raise UsageError("--tensorboard is empty; give the folder for its log")
        require_tensorboard()
        from mnist_vae.io import check_writable_dir

        check_writable_dir(
            Path(self.log_dir), "--tensorboard would write its log there", create=True
        )

    def check_outside(self, out: str | Path) -> None:
        """The log cannot live in the run directory: that appears only when training ends."""
        log, run = Path(self.log_dir).resolve(), Path(out).resolve()
        if log == run or run in log.parents:
            raise UsageError(
                f"--tensorboard {self.log_dir} is inside the run directory {out}, "
                "which is written only when training ends; pick a folder "
                "outside it"
            )

    def callbacks(
        self, x_test: np.ndarray, y_test: np.ndarray, *, epochs: int, seed: int, conditional: bool
    ) -> list[keras.callbacks.Callback]:
        """Keras's TensorBoard (scalars) and ours (images) for a fit of ``epochs`` epochs.

        ``x_test`` are float images in [0, 1] as trained on (binarized if the run is).
        """
        shown = slice(0, RECONSTRUCTED)
        return [
            keras.callbacks.TensorBoard(
                str(self.log_dir), update_freq="epoch", write_graph=False, profile_batch=0
            ),
            TensorBoardImages(
                Path(self.log_dir) / IMAGES_FOLDER,
                x_test[shown],
                y_test[shown].astype("int32") if conditional else None,
                every=self.images_every,
                epochs=epochs,
                seed=seed,
            ),
        ]


class TensorBoardImages(keras.callbacks.Callback):
    """Test images beside their reconstructions, and prior samples, as TensorBoard images.

    Written after every ``every``-th epoch and after the last (``epochs``), through the
    model's protocol (``reconstruct``, ``sample_prior`` and ``decode``), drawn as the
    run's figures draw them: dark ink on white. Tags: ``reconstructions`` (pairs: test
    image, reconstruction) and ``samples``.
    """

    def __init__(
        self,
        log_dir: str | Path,
        images: np.ndarray,
        labels: np.ndarray | None,
        *,
        every: int,
        epochs: int,
        seed: int,
    ) -> None:
        super().__init__()
        self.log_dir = str(log_dir)
        self.images = images
        self.labels = labels
        self.every = every
        self.epochs = epochs
        self.seed = seed
        self._writer = None

    def on_epoch_end(self, epoch, logs=None) -> None:
        if (epoch + 1) % self.every == 0 or epoch + 1 == self.epochs:
            self.write(epoch)

    def on_train_end(self, logs=None) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def write(self, step: int) -> None:
        import tensorflow as tf

        from mnist_vae.models.inference import reconstruct
        from mnist_vae.models.sampling import sample_digits
        from mnist_vae.runs.figures import pair_mosaic, tile

        originals = self.images[..., 0]
        reconstructions = reconstruct(self.model, self.images, self.labels)
        pairs = pair_mosaic(
            np.clip(originals, 0, 1),
            np.clip(reconstructions.astype(np.float32), 0, 1),
            PAIRS_PER_ROW,
        )
        samples = sample_digits(self.model, SAMPLES, self.seed).astype(np.float32)
        grid = tile(np.clip(samples, 0, 1), SAMPLES // 10, 10)
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        with self._writer.as_default():
            for tag, mosaic, text in (
                (
                    "reconstructions",
                    pairs,
                    "each pair: a test image and its reconstruction (decoded posterior mean)",
                ),
                ("samples", grid, "samples from the prior"),
            ):
                ink = np.nan_to_num(1.0 - mosaic)  # dark on white, as the run's figures; a
                # diverging model's NaN pixels black (training stops after the epoch)
                tf.summary.image(tag, ink[None, :, :, None], step=step, description=text)
        self._writer.flush()
