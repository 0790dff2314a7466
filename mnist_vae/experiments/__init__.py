"""Measurements beyond a single run: does VAE-made data help a classifier?"""

from mnist_vae.experiments.augment import AugmentConfig, run_benchmark

__all__ = ["AugmentConfig", "run_benchmark"]
