"""Draw digits from a trained model: from the prior, or around a digit's mean code."""

from __future__ import annotations

import numpy as np

from mnist_vae.errors import UsageError

# The report's labelled synthesis: z = mean_z(digit) + N(0, 0.1 I).
DIGIT_NOISE_VARIANCE = 0.1


def latent_draws(
    count: int,
    latent_dim: int,
    seed: int,
    *,
    center: np.ndarray | None = None,
    variance: float = 1.0,
) -> np.ndarray:
    """``count`` codes from N(center, variance * I); N(0, I) when ``center`` is None."""
    if count < 1:
        raise UsageError(f"count must be a positive integer, got {count}")
    if not variance > 0:
        raise UsageError(f"noise variance must be positive, got {variance}")
    noise = np.random.default_rng(seed).standard_normal((count, latent_dim))
    offset = np.zeros(latent_dim) if center is None else np.asarray(center, dtype=np.float64)
    return (offset + np.sqrt(variance) * noise).astype(np.float32)


def decode_codes(model, codes: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """Mean images, float (N, 28, 28) in [0, 1]."""
    return model.decode_batched(codes, labels)


def sample_digits(
    model,
    count: int,
    seed: int = 0,
    *,
    digit: int | None = None,
    digit_means: np.ndarray | None = None,
    noise_variance: float = DIGIT_NOISE_VARIANCE,
) -> np.ndarray:
    """Decode prior draws, or draw digit ``digit`` the way the model knows how.

    A plain VAE decodes mean_z(digit) + N(0, noise_variance I) (the report's
    labelled synthesis); a conditional VAE samples p(x | z, y=digit) directly.
    Without a digit, conditional models cycle through the digits 0-9.
    """
    if digit is None:
        labels = np.arange(count) % 10 if model.conditional else None
        return decode_codes(model, latent_draws(count, int(model.latent_dim), seed), labels)
    if not 0 <= digit <= 9:
        raise UsageError(f"digit must be 0-9, got {digit}")
    latent_draws(count, int(model.latent_dim), seed, variance=noise_variance)  # validates
    return model.sample_digit(digit, count, seed, digit_means, noise_variance)
