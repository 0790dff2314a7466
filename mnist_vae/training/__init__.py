"""Training: orchestration (``train``), the fit loop (``Fitter``), callbacks, precision
and tf.distribute set-ups (``distribution``); latent samplers fitted after training
(``latent_samplers``); drawing images from a run or an export (``draw_samples``); the
RunConfig of settings given over a config file (``run_config_from_settings``)."""

from mnist_vae.training.drawing import SampleRequest, SampleResult, draw_samples
from mnist_vae.training.fitter import Fitter
from mnist_vae.training.run_settings import run_config_from_settings
from mnist_vae.training.sampler_fitting import fit_sampler, run_sampler, sample_run
from mnist_vae.training.trainer import train

__all__ = [
    "Fitter",
    "SampleRequest",
    "SampleResult",
    "draw_samples",
    "fit_sampler",
    "run_config_from_settings",
    "run_sampler",
    "sample_run",
    "train",
]
