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
    seed: int = 0, images_per_call: int = 20_000, on_chunk=None,
) -> np.ndarray:  # fmt: skip
    """Per-image IWAE bound on -log p(x) (or -log p(x|y)) in nats; ``images`` float [0, 1].

    Each call into the compiled graph scores ``images_per_call // samples`` images
    with all their samples at once; ``on_chunk(images_done)`` reports progress. The
    graph is traced once, for any number of images per call (the last chunk is
    usually smaller), so it is never traced again.
    """
    import keras
    import tensorflow as tf

    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    generator = keras.random.SeedGenerator(seed)
    batch = max(1, images_per_call // samples)
    images = np.asarray(images, dtype=np.float32)
    signature = [tf.TensorSpec((None, *images.shape[1:]), tf.float32)]
    if labels is not None:
        labels = np.asarray(labels)
        signature.append(tf.TensorSpec((None, *labels.shape[1:]), tf.as_dtype(labels.dtype)))

    @tf.function(input_signature=signature)
    def negative_bound(chunk, *chunk_labels):
        given = chunk_labels[0] if chunk_labels else None
        log_weights = iwae_log_weights(model, chunk, given, samples, generator)
        return math.log(samples) - keras.ops.logsumexp(log_weights, axis=0)

    bounds = []
    for start in range(0, len(images), batch):
        chunk = [images[start : start + batch]]
        if labels is not None:
            chunk.append(labels[start : start + batch])
        bounds.append(negative_bound(*chunk).numpy())
        if on_chunk is not None:
            on_chunk(min(start + batch, len(images)))
    return np.concatenate(bounds)
