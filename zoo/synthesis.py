"""Ways to make labelled synthetic digits for a classifier (``benchmark augment``).

Each registered method takes a ``mnist_vae.experiments.synthesis.SynthesisContext``
and returns ``count`` images (float, N x 28 x 28 in [0, 1]) with their labels.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mnist_vae.data import to_float_images
from mnist_vae.experiments.synthesis import SynthesisContext
from mnist_vae.models.inference import encode_codes
from mnist_vae.models.sampling import decode_batched, sample_digits
from mnist_vae.registry import synthesis_methods


def _by_digit(labels: np.ndarray, draw: Callable[[int, int], np.ndarray]) -> np.ndarray:
    images = np.zeros((len(labels), 28, 28), np.float32)
    for digit in np.unique(labels):
        where = np.flatnonzero(labels == digit)
        images[where] = draw(int(digit), len(where))
    return images


@synthesis_methods.register
def class_mean(context: SynthesisContext, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The report's: decode mean_z(digit) + N(0, 0.1 I) from a VAE trained on A."""
    model, means = context.get("vae")
    labels = context.target_labels(count)

    def draw(digit: int, n: int) -> np.ndarray:
        return sample_digits(
            model,
            n,
            seed + 7919 * digit,
            digit=digit,
            digit_means=means,
            noise_variance=context.noise_variance,
        )

    return _by_digit(labels, draw), labels


@synthesis_methods.register
def encode_noise(context: SynthesisContext, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Encode the classifier's own real images, add N(0, 0.1 I) to the code, decode; keep labels."""
    model, _ = context.get("vae")
    sources = np.resize(np.arange(len(context.real_images)), count)
    codes = encode_codes(model, to_float_images(context.real_images[sources]))
    noise = np.random.default_rng(seed).standard_normal(codes.shape)
    codes = (codes + np.sqrt(context.noise_variance) * noise).astype(np.float32)
    return decode_batched(model, codes), context.real_labels[sources].astype(np.int64)


@synthesis_methods.register
def cvae(context: SynthesisContext, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw each digit from p(x | z, y) of a conditional VAE trained on A."""
    model = context.get("cvae")
    labels = context.target_labels(count)
    return _by_digit(
        labels, lambda digit, n: sample_digits(model, n, seed + 7919 * digit, digit=digit)
    ), labels


@synthesis_methods.register
def filtered(context: SynthesisContext, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Conditional-VAE digits kept only if a classifier trained on A agrees with confidence."""
    from mnist_vae.evaluation.classifier_training import predict_outputs, softmax

    model, judge = context.get("cvae"), context.get("filter")
    labels = context.target_labels(count)

    def draw(digit: int, n: int) -> np.ndarray:
        kept, best, attempt = [], [], 0
        while sum(len(k) for k in kept) < n and attempt < 20:
            candidates = sample_digits(
                model, 2 * n, seed + 7919 * digit + 104729 * attempt, digit=digit
            )
            confidence = softmax(predict_outputs(judge, candidates)[-1])[:, digit]
            kept.append(candidates[confidence >= context.filter_threshold])
            best.append(candidates[np.argsort(-confidence)[:n]])
            attempt += 1
        pool = np.concatenate(kept + best)  # the best rejected fill in if too few pass
        return pool[:n]

    return _by_digit(labels, draw), labels
