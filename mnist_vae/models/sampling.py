"""Draw images from a trained model: from its prior, or one chosen class.

Every path draws its noise from ``mnist_vae.models.portable_random``, so the same
seed gives the same images from ``model.sample``, ``mnist-vae sample`` and an
exported model's ``sample`` signature.
"""

from __future__ import annotations

import numpy as np

# The report's labelled synthesis: z = mean_z(digit) + N(0, 0.1 I) (DIGIT_NOISE_VARIANCE).
from mnist_vae.config import DIGIT_NOISE_VARIANCE, NUM_CLASSES
from mnist_vae.errors import UsageError

DECODE_BATCH = 1000


def _check_count(count: int) -> None:
    if not (isinstance(count, (int, np.integer)) and count >= 1):
        raise UsageError(f"count must be a positive integer, got {count!r}")


def decode_batched(
    model, codes: np.ndarray, labels: np.ndarray | None = None, on_batch=None
) -> np.ndarray:
    """Mean images for many codes, float (N, 28, 28), decoded in batches.

    ``on_batch(n)`` (e.g. a progress task) is called with each batch's size.
    """
    import keras

    decoded = []
    for s in range(0, len(codes), DECODE_BATCH):
        given = None if labels is None else labels[s : s + DECODE_BATCH]
        images = model.decode(codes[s : s + DECODE_BATCH], given)
        decoded.append(keras.ops.convert_to_numpy(images)[..., 0])
        if on_batch is not None:
            on_batch(len(decoded[-1]))
    return np.concatenate(decoded)


def prior_codes(model, count: int, seed: int) -> np.ndarray:
    """``count`` codes from the model's own prior, as numpy."""
    import keras

    _check_count(count)
    return keras.ops.convert_to_numpy(model.sample_prior(int(count), int(seed)))


def class_mean_codes(
    means: np.ndarray, digit: int, count: int, seed: int, noise_variance: float
) -> np.ndarray:
    """mean_z(digit) + N(0, noise_variance I): the report's labelled synthesis, in code space."""
    import keras

    from mnist_vae.models import portable_random

    if not noise_variance > 0:
        raise UsageError(f"noise variance must be positive, got {noise_variance}")
    if means is None or np.isnan(means[digit]).any():
        raise UsageError(f"no mean latent code is known for class {digit}; the run saw none")
    latent = np.asarray(means[digit]).shape
    noise = keras.ops.convert_to_numpy(portable_random.standard_normal([count, *latent], seed))
    return (means[digit] + np.sqrt(noise_variance) * noise).astype(np.float32)


def check_sampler_use(model, digit: int | None = None) -> None:
    """A latent sampler draws from all training codes of an unconditional model, or refuses."""
    from mnist_vae.models.latent_samplers import refuse_digit

    refuse_digit(digit)
    if model.conditional:
        raise UsageError(
            "latent samplers need an unconditional model; a conditional (cvae) run draws z "
            "from its prior (use --class for one class)"
        )


def sample_digits(
    model,
    count: int,
    seed: int = 0,
    *,
    digit: int | None = None,
    digit_means: np.ndarray | None = None,
    noise_variance: float = DIGIT_NOISE_VARIANCE,
    sampler=None,
    on_batch=None,
) -> np.ndarray:
    """Decode prior draws, or draw class ``digit`` the way the model knows how.

    A conditional model samples p(x | z, y=digit) with z from its prior; an
    unconditional one decodes mean_z(digit) + N(0, noise_variance I) (the report's
    labelled synthesis). Without a digit, conditional models cycle through the classes.
    With a fitted ``sampler`` (``mnist_vae.models.latent_samplers``), the codes come
    from it instead of the prior (unconditional models, no digit). ``on_batch(n)``
    (e.g. a progress task) is called with the size of each batch decoded.
    """
    _check_count(count)
    if sampler is not None:
        from mnist_vae.models.latent_samplers import sample_codes

        check_sampler_use(model, digit)
        codes = sample_codes(sampler, count, seed)
        return decode_batched(model, codes.reshape(count, *model.latent_shape), on_batch=on_batch)
    if digit is None:
        labels = np.arange(count) % NUM_CLASSES if model.conditional else None
        return decode_batched(model, prior_codes(model, count, seed), labels, on_batch)
    if not 0 <= digit < NUM_CLASSES:
        raise UsageError(f"class must be 0-{NUM_CLASSES - 1}, got {digit}")
    if model.conditional:
        return decode_batched(
            model, prior_codes(model, count, seed), np.full(count, digit), on_batch
        )
    return decode_batched(
        model, class_mean_codes(digit_means, digit, count, seed, noise_variance), on_batch=on_batch
    )
