"""Numbers that judge a generative model, as plain functions on arrays.

* ``iwae_negative_log_likelihood``: the importance-weighted bound of Burda, Grosse
  & Salakhutdinov (2015) on -log p(x); with K = 1 it is the single-sample negative
  ELBO, and it tightens as K grows.
* ``frechet_distance``: the Fréchet distance between two Gaussians fitted to
  feature sets (as in FID, with an MNIST classifier in place of Inception).
* ``reconstruction_errors``: per-pixel squared error and cross-entropy.
"""

from __future__ import annotations

import math

import numpy as np

from mnist_vae.losses import reconstruction_nll


def iwae_log_weights(model, images, labels, samples: int, seed_generator):
    """log p(x|z_k) + log p(z_k) - log q(z_k|x), shape [samples, batch] (keras tensors)."""
    import keras

    ops = keras.ops
    mean, log_variance = model.encode(images, labels)
    batch, latent = ops.shape(mean)[0], ops.shape(mean)[1]
    noise = keras.random.normal((samples, batch, latent), seed=seed_generator)
    z = mean[None] + ops.exp(0.5 * log_variance)[None] * noise
    flat_z = ops.reshape(z, (samples * batch, latent))
    tiled_labels = None if labels is None else ops.tile(labels, (samples,))
    logits = model.decode_logits(flat_z, tiled_labels)
    tiled_images = ops.tile(images, (samples, 1, 1, 1))
    nll = reconstruction_nll(
        model.likelihood, tiled_images, logits, variance=model.gaussian_variance
    )
    log_two_pi = math.log(2.0 * math.pi)
    log_prior = -0.5 * ops.sum(ops.square(z) + log_two_pi, axis=-1)
    log_posterior = -0.5 * ops.sum(ops.square(noise) + log_variance[None] + log_two_pi, axis=-1)
    return -ops.reshape(nll, (samples, batch)) + log_prior - log_posterior


def iwae_negative_log_likelihood(
    model, images: np.ndarray, labels: np.ndarray | None = None, *, samples: int = 200,
    seed: int = 0, images_per_call: int = 20_000,
) -> np.ndarray:  # fmt: skip
    """Per-image IWAE bound on -log p(x) (or -log p(x|y)) in nats; ``images`` float [0, 1]."""
    import keras

    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    generator = keras.random.SeedGenerator(seed)
    batch = max(1, images_per_call // samples)
    bounds = []
    for start in range(0, len(images), batch):
        chunk_labels = None if labels is None else labels[start : start + batch]
        log_weights = iwae_log_weights(
            model, images[start : start + batch], chunk_labels, samples, generator
        )
        bound = keras.ops.logsumexp(log_weights, axis=0) - math.log(samples)
        bounds.append(-keras.ops.convert_to_numpy(bound))
    return np.concatenate(bounds)


def frechet_distance(first: np.ndarray, second: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two (N, D) feature sets.

    ||mu1 - mu2||^2 + tr(C1) + tr(C2) - 2 tr((C1 C2)^(1/2)), with the last trace taken
    as the sum of square roots of the eigenvalues of sqrt(C1) C2 sqrt(C1), a symmetric
    matrix, which is stable where a general matrix square root is not.
    """
    mu1, mu2 = first.mean(axis=0), second.mean(axis=0)
    c1, c2 = np.cov(first, rowvar=False), np.cov(second, rowvar=False)
    values, vectors = np.linalg.eigh(c1)
    root1 = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    middle = np.linalg.eigvalsh(root1 @ c2 @ root1)
    cross = np.sum(np.sqrt(np.clip(middle, 0, None)))
    distance = float(np.sum((mu1 - mu2) ** 2) + np.trace(c1) + np.trace(c2) - 2.0 * cross)
    return max(distance, 0.0)


def reconstruction_errors(images: np.ndarray, reconstructions: np.ndarray) -> dict[str, float]:
    """Mean per-pixel squared error and binary cross-entropy (targets in [0, 1])."""
    clipped = np.clip(reconstructions.astype(np.float64), 1e-7, 1 - 1e-7)
    targets = images.astype(np.float64)
    bce = -(targets * np.log(clipped) + (1 - targets) * np.log(1 - clipped))
    return {
        "pixel_mse": float(np.mean((targets - reconstructions) ** 2)),
        "pixel_bce": float(np.mean(bce)),
    }
