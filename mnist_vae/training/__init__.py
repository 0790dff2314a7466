"""Training: orchestration (``train``), the fit loop (``Fitter``), callbacks, precision
and tf.distribute set-ups (``distribution``); latent samplers fitted after training
(``latent_samplers``)."""

from mnist_vae.training.fitter import Fitter
from mnist_vae.training.sampler_fitting import fit_sampler, run_sampler, sample_run
from mnist_vae.training.trainer import train

__all__ = ["Fitter", "fit_sampler", "run_sampler", "sample_run", "train"]
