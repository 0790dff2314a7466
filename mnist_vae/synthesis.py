"""Ways to make labelled synthetic digits for a classifier (``benchmark augment``).

Each registered method takes a ``SynthesisContext`` and returns ``count`` images
(float, N x 28 x 28 in [0, 1]) with their labels. Generators are trained on the
half of the training set (A) the classifier never sees; the context builds them
only when a method asks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mnist_vae.registry import synthesis_methods


@dataclass
class SynthesisContext:
    """What the methods may use; generators are created on first use and then kept."""

    real_images: np.ndarray  # uint8 (N, 28, 28): the classifier's own real training images
    real_labels: np.ndarray
    make_vae: Callable[[], tuple]  # -> (model, digit_means), trained on A
    make_cvae: Callable[[], object]  # -> conditional model, trained on A
    make_filter: Callable[[], object]  # -> classifier network, trained on A
    noise_variance: float = 0.1
    filter_threshold: float = 0.9
    _cache: dict = field(default_factory=dict)

    def get(self, name: str):
        if name not in self._cache:
            self._cache[name] = {
                "vae": self.make_vae,
                "cvae": self.make_cvae,
                "filter": self.make_filter,
            }[name]()
        return self._cache[name]

    def target_labels(self, count: int) -> np.ndarray:
        """``count`` labels in the real subset's proportions (its labels, cycled)."""
        return np.resize(self.real_labels, count).astype(np.int64)


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
        return model.sample_digit(digit, n, seed + 7919 * digit, means, context.noise_variance)

    return _by_digit(labels, draw), labels


@synthesis_methods.register
def encode_noise(context: SynthesisContext, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Encode the classifier's own real images, add N(0, 0.1 I) to the code, decode; keep labels."""
    from mnist_vae.evaluation import encode_means

    model, _ = context.get("vae")
    sources = np.resize(np.arange(len(context.real_images)), count)
    codes = encode_means(model, context.real_images[sources])
    noise = np.random.default_rng(seed).standard_normal(codes.shape)
    codes = (codes + np.sqrt(context.noise_variance) * noise).astype(np.float32)
    return model.decode_batched(codes), context.real_labels[sources].astype(np.int64)


@synthesis_methods.register
def cvae(context: SynthesisContext, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw each digit from p(x | z, y) of a conditional VAE trained on A."""
    model = context.get("cvae")
    labels = context.target_labels(count)
    return _by_digit(
        labels, lambda digit, n: model.sample_digit(digit, n, seed + 7919 * digit)
    ), labels


@synthesis_methods.register
def filtered(context: SynthesisContext, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Conditional-VAE digits kept only if a classifier trained on A agrees with confidence."""
    from mnist_vae.classify import predict_outputs, softmax

    model, judge = context.get("cvae"), context.get("filter")
    labels = context.target_labels(count)

    def draw(digit: int, n: int) -> np.ndarray:
        kept, best, attempt = [], [], 0
        while sum(len(k) for k in kept) < n and attempt < 20:
            candidates = model.sample_digit(digit, 2 * n, seed + 7919 * digit + 104729 * attempt)
            confidence = softmax(predict_outputs(judge, candidates)[-1])[:, digit]
            kept.append(candidates[confidence >= context.filter_threshold])
            best.append(candidates[np.argsort(-confidence)[:n]])
            attempt += 1
        pool = np.concatenate(kept + best)  # the best rejected fill in if too few pass
        return pool[:n]

    return _by_digit(labels, draw), labels
