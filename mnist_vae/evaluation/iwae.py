"""The importance-weighted bound of Burda, Grosse & Salakhutdinov (2016) on -log p(x).

With K samples z_k ~ q(z|x), -log p(x) <= -log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x);
with K = 1 it is the single-sample negative ELBO, and it tightens as K grows. The
model supplies the three log-densities (the generative-model protocol), so any
prior or posterior works.
"""

from __future__ import annotations

import math

import numpy as np

# Decoder rows per block of samples: a block's logits (rows x 784 floats) fit the caches.
ROWS_PER_BLOCK = 5_000


def iwae_log_weights(model, images, labels, samples: int, seed_generator):
    """log p(x|z_k) + log p(z_k) - log q(z_k|x), shape [samples, batch] (Keras tensors)."""
    terms = model.log_density_terms(images, labels, samples, seed_generator)
    return terms["log_likelihood"] + terms["log_prior"] - terms["log_posterior"]


def iwae_negative_log_likelihood(
    model,
    images: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    samples: int = 200,
    seed: int = 0,
    images_per_call: int = 20_000,
    on_chunk=None,
    rows_per_block: int = ROWS_PER_BLOCK,
) -> np.ndarray:
    """Per-image IWAE bound on -log p(x) (or -log p(x|y)) in nats; ``images`` float [0, 1].

    Each call into the compiled graph scores ``images_per_call // samples`` images
    with all their samples; inside it the samples are drawn and decoded in blocks of
    at most ``rows_per_block`` decoder rows, whose log-mean-exp are combined exactly
    (a block's logits stay in the cores' caches: at K=5000 this scores 1.3-1.5x
    faster than one pass over all the call's rows). ``on_chunk(images_done)``
    reports progress. The graph is traced once, for any number of images per call
    (the last chunk is usually smaller), so it is never traced again.
    """
    import keras
    import tensorflow as tf

    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    generator = keras.random.SeedGenerator(seed)
    batch = max(1, images_per_call // samples)
    blocks = sample_blocks(samples, batch, rows_per_block)
    images = np.asarray(images, dtype=np.float32)
    signature = [tf.TensorSpec((None, *images.shape[1:]), tf.float32)]
    if labels is not None:
        labels = np.asarray(labels)
        signature.append(tf.TensorSpec((None, *labels.shape[1:]), tf.as_dtype(labels.dtype)))

    @tf.function(input_signature=signature)
    def negative_bound(chunk, *chunk_labels):
        given = chunk_labels[0] if chunk_labels else None
        block_sums = [
            keras.ops.logsumexp(iwae_log_weights(model, chunk, given, size, generator), axis=0)
            for size in blocks
        ]  # log sum_k w_k of each block, [blocks, batch]: their log-sum-exp is the whole sum's
        total = keras.ops.logsumexp(keras.ops.stack(block_sums), axis=0)
        return math.log(samples) - total

    bounds = []
    for start in range(0, len(images), batch):
        chunk = [images[start : start + batch]]
        if labels is not None:
            chunk.append(labels[start : start + batch])
        bounds.append(negative_bound(*chunk).numpy())
        if on_chunk is not None:
            on_chunk(min(start + batch, len(images)))
    return np.concatenate(bounds)


def sample_blocks(samples: int, images: int, rows_per_block: int) -> list[int]:
    """``samples`` split into near-equal blocks of at most ``rows_per_block // images`` each."""
    per_block = max(1, rows_per_block // max(1, images))
    count = -(-samples // per_block)
    return [samples // count + (1 if index < samples % count else 0) for index in range(count)]
