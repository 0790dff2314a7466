"""From uint8 arrays to model inputs: float images and tf.data pipelines."""

from __future__ import annotations

import numpy as np

from mnist_vae.config import IMAGE_SHAPE
from mnist_vae.pixels import float_images

# The seed of the one binary draw of a test set under dynamic binarization.
DYNAMIC_TEST_SEED = 0


def binarized(images: np.ndarray) -> np.ndarray:
    """MNIST thresholded at 0.5 (the TensorFlow CVAE tutorial's setting), still uint8 0/255."""
    return np.where(images >= 128, 255, 0).astype(np.uint8)


def sampled_binary(images: np.ndarray, seed: int) -> np.ndarray:
    """Each pixel 255 with probability grey/255, else 0 (one draw, seeded), uint8."""
    uniform = np.random.default_rng(seed).random(images.shape)
    return np.where(uniform * 255.0 < images, 255, 0).astype(np.uint8)


def binarize_test_set(images: np.ndarray, mode: str) -> np.ndarray:
    """The test images under a binarization mode: as they are, thresholded, or one fixed draw."""
    if mode == "threshold":
        return binarized(images)
    if mode == "dynamic":
        return sampled_binary(images, DYNAMIC_TEST_SEED)
    return images


def to_float_images(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) or float images in [0, 1] -> float32 (N, 28, 28, 1) in [0, 1].

    The one place pixels become model inputs: every caller converts through here.
    """
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return (images.astype(np.float32) / 255.0).reshape(-1, *IMAGE_SHAPE)
    return images.reshape(-1, *IMAGE_SHAPE).astype(np.float32)


class EpochClock:
    """Which epoch a shuffled pipeline is drawing: its order and binary draws are a function
    of (seed, epoch) alone, so a run resumed at epoch e sees what an uninterrupted run saw.

    Each new pass over the dataset reads the clock and advances it; the trainer sets it
    at the start of every epoch (``mnist_vae.training.callbacks.EpochClockSync``), so a
    pass made for any other reason cannot shift the order.
    """

    def __init__(self, epoch: int = 0) -> None:
        self.epoch = int(epoch)

    def advance(self) -> np.int64:
        """The epoch of the pass now starting; the next pass gets the one after."""
        epoch, self.epoch = self.epoch, self.epoch + 1
        return np.int64(epoch)


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    *,
    shuffle: bool = False,
    seed: int = 0,
    resample_binary: bool = False,
    clock: EpochClock | None = None,
    skip_batches: int = 0,
    labelled: tuple[np.ndarray, np.ndarray] | None = None,
    labelled_per_batch: int = 0,
    raw: bool = False,
):
    """An in-memory tf.data pipeline of (float images, int32 labels).

    With ``shuffle`` every pass is a new order, a seeded permutation of (``seed``, the
    ``clock``'s epoch), gathered a whole batch at a time from the uint8 images and
    converted to float only per batch: one pipeline element per batch instead of one
    per image. With ``resample_binary`` (dynamic binarization; needs ``shuffle``) every
    batch of every epoch gets binary pixels drawn afresh from the grey levels, keyed by
    (seed, epoch, batch).

    With ``skip_batches`` (needs ``shuffle``) each pass leaves out the first batches of
    its epoch's order: the rest of an epoch resumed from a mid-epoch checkpoint. The
    batches left are exactly those of the full pass, binary draws included.

    With ``labelled`` (uint8 images and their labels; needs ``shuffle``) every batch
    ends with ``labelled_per_batch`` more rows drawn from it with replacement, keyed by
    (seed, epoch, batch) like the binary draws, so a resumed pass draws them alike:
    semi-supervised training, whose ``labels`` mark unlabelled images with -1, then
    sees labels in every batch however few there are.

    With ``raw`` (needs ``shuffle``) a shuffled pass yields each batch undecoded:
    (uint8 pixels, labels), plus the batch's binary-draw key under ``resample_binary``;
    the training step decodes it (``mnist_vae.models.steps.unpack``) into exactly the
    float batch this pipeline would otherwise make.
    """
    import tensorflow as tf

    batches_per_pass = -(-len(images) // batch_size)
    _check_pipeline(
        shuffle, resample_binary, raw, labelled, labelled_per_batch, skip_batches, batches_per_pass
    )
    if not shuffle:
        return _in_order(images, labels, batch_size)
    seed = int(seed)
    epoch_batches = _epoch_orders(
        clock or EpochClock(), len(images), batch_size, seed, skip_batches
    )
    gather = _batch_gather(images, labels, seed, resample_binary, labelled, labelled_per_batch, raw)
    passes = tf.data.Dataset.from_tensors(0).flat_map(epoch_batches)
    cardinality = batches_per_pass - skip_batches
    passes = passes.apply(tf.data.experimental.assert_cardinality(cardinality))  # for Keras
    if raw:  # a gather of uint8 rows: done in the step's own thread when it asks
        return passes.map(gather).with_options(one_thread_options())
    passes = passes.map(gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
    return passes.with_options(one_thread_options())


def _in_order(images: np.ndarray, labels: np.ndarray, batch_size: int):
    """The unshuffled pipeline (evaluation): one fixed pass in the arrays' order, so a
    model's test numbers never depend on a seed or an epoch."""
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((to_float_images(images), labels.astype(np.int32)))
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _check_pipeline(
    shuffle: bool,
    resample_binary: bool,
    raw: bool,
    labelled,
    labelled_per_batch: int,
    skip_batches: int,
    batches_per_pass: int,
) -> None:
    """What only a shuffled (training) pipeline can do, refused on another."""
    if (resample_binary or raw) and not shuffle:
        raise ValueError("resample_binary and raw are for training batches; they need shuffle=True")
    if labelled is not None and not (shuffle and labelled_per_batch > 0 and len(labelled[0])):
        raise ValueError(
            "labelled rows are drawn per training batch: they need shuffle=True, "
            "labelled_per_batch > 0 and a non-empty labelled set"
        )
    if skip_batches and not (shuffle and 0 <= skip_batches < batches_per_pass):
        raise ValueError(
            f"skip_batches must be in [0, {batches_per_pass}) of a shuffled "
            f"pipeline, got {skip_batches}"
        )


def _epoch_orders(clock: EpochClock, count: int, batch_size: int, seed: int, skip_batches: int):
    """A pass's batches of indices: a permutation of (seed, the clock's epoch), numbered."""
    import tensorflow as tf

    def epoch_batches(_):
        epoch = tf.reshape(tf.py_function(clock.advance, [], tf.int64), [])
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch])
        )
        batches = tf.data.Dataset.from_tensor_slices(order).batch(batch_size).enumerate()
        batches = batches.skip(skip_batches)  # after enumerate: the numbers stay the pass's
        return batches.map(lambda number, indices: (epoch, number, indices))

    return epoch_batches


def _batch_gather(
    images: np.ndarray,
    labels: np.ndarray,
    seed: int,
    resample_binary: bool,
    labelled,
    labelled_per_batch: int,
    raw: bool,
):
    """(epoch, number, indices) -> a batch: its rows (and labelled ones), decoded unless raw."""
    import tensorflow as tf

    pixels = tf.constant(images)
    classes = tf.constant(labels.astype(np.int32))
    if labelled is not None:
        labelled_pixels = tf.constant(labelled[0])
        labelled_classes = tf.constant(np.asarray(labelled[1]).astype(np.int32))

    def gather(epoch, number, indices):
        key = tf.stack([tf.constant(seed, tf.int64), epoch * (1 << 24) + number])
        batch, batch_classes = tf.gather(pixels, indices), tf.gather(classes, indices)
        if labelled is not None:  # its own stream: the draw of the same key folded with 1
            picks = tf.random.stateless_uniform(
                [labelled_per_batch],
                seed=tf.random.experimental.stateless_fold_in(key, 1),
                maxval=len(labelled[0]),
                dtype=tf.int64,
            )
            batch = tf.concat([batch, tf.gather(labelled_pixels, picks)], axis=0)
            batch_classes = tf.concat([batch_classes, tf.gather(labelled_classes, picks)], 0)
        if raw:
            return (batch, batch_classes, key) if resample_binary else (batch, batch_classes)
        return float_images(batch, key if resample_binary else None), batch_classes

    return gather


def one_thread_options():
    """tf.data options that keep a pipeline to one thread of its own.

    A batch is one gather of uint8 rows (the step decodes it), work for a fraction of
    one core; tf.data's default pool would start a thread per core beside the training
    step's, on a two-core machine the same cores. (Its measured effect on the MLP
    benchmark was within the noise: ``benchmarks/train_throughput.py``.)
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.threading.private_threadpool_size = 1
    options.threading.max_intra_op_parallelism = 1
    return options
