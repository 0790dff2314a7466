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


def decode_codes(model, codes: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Mean images, float (N, 28, 28) in [0, 1]."""
    batches = [
        np.asarray(model.decode(codes[start : start + batch_size]))[..., 0]
        for start in range(0, len(codes), batch_size)
    ]
    return np.concatenate(batches)


def sample_digits(
    model,
    count: int,
    seed: int = 0,
    *,
    digit: int | None = None,
    digit_means: np.ndarray | None = None,
    noise_variance: float = DIGIT_NOISE_VARIANCE,
) -> np.ndarray:
    """Decode prior draws, or draws around ``digit``'s mean code (the report's synthesis)."""
    latent_dim = int(model.latent_dim)
    if digit is None:
        return decode_codes(model, latent_draws(count, latent_dim, seed))
    if (
        digit_means is None
        or not 0 <= digit < len(digit_means)
        or np.isnan(digit_means[digit]).any()
    ):
        raise UsageError(f"no mean latent code is known for digit {digit}; choose a digit 0-9")
    codes = latent_draws(
        count, latent_dim, seed, center=digit_means[digit], variance=noise_variance
    )
    return decode_codes(model, codes)
