"""The importance-weighted bound of Burda, Grosse & Salakhutdinov (2016) on -log p(x).

With K samples z_k ~ q(z|x), -log p(x) <= -log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x);
with K = 1 it is the single-sample negative ELBO, and it tightens as K grows. The
model supplies the three log-densities (the generative-model protocol), so any
prior or posterior works.
"""

from __future__ import annotations

import math

import numpy as np


def iwae_log_weights(model, images, labels, samples: int, seed_generator):
    """log p(x|z_k) + log p(z_k) - log q(z_k|x), shape [samples, batch] (Keras tensors)."""
    terms = model.log_density_terms(images, labels, samples, seed_generator)
    return terms["log_likelihood"] + terms["log_prior"] - terms["log_posterior"]


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
