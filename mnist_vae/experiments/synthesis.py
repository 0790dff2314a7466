"""What a synthesis method (registered in the zoo) may use to make labelled images.

Generators are trained on the half of the training set (A) the classifier never
sees; the context builds them only when a method asks, then keeps them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


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
