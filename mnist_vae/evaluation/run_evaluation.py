"""``mnist-vae evaluate``: everything a run is worth, written into its metrics.json.

ELBO (as training reports it), the tighter IWAE bound, reconstruction errors, and
sample quality judged by the reference classifier: Fréchet distance of its
penultimate features between test images and samples, its mean confidence on
samples, the fraction of blank samples, and how often it agrees with the digit a
labelled synthesis intended. Samples come from the prior and, when given, from
latent samplers fitted to the run (``samplers``).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from mnist_vae.config import NUM_CLASSES
from mnist_vae.data import MnistData, binarize_test_set, load_mnist, to_float_images
from mnist_vae.runs import Run

DEFAULT_IW_SAMPLES = 200
# Where metrics.json keeps an evaluation, by the test set's binarization.
EVALUATION_KEYS = {
    "none": "evaluation",
    "threshold": "evaluation_binarized",
    "dynamic": "evaluation_dynamic_binarized",
}
DEFAULT_QUALITY_SAMPLES = 10_000
LABELLED_PER_DIGIT = 1_000


def evaluate_run(
    run: Run,
    *,
    data: MnistData | None = None,
    iw_samples: int = DEFAULT_IW_SAMPLES,
    binarize: str | None = None,
    quality: bool = True,
    quality_samples: int = DEFAULT_QUALITY_SAMPLES,
    reference_path: str | Path | None = None,
    seed: int = 0,
    write: bool = True,
    report=print,
    samplers: dict | None = None,
) -> dict:
    """Evaluate ``run`` on the test set; with ``write`` the result joins its metrics.json.

    ``samplers`` maps names to fitted latent samplers (``Run.load_sampler``) whose
    samples are judged beside the prior's, under ``samplers`` in the result.
    """
    from mnist_vae.evaluation.iwae import iwae_negative_log_likelihood
    from mnist_vae.evaluation.metrics import reconstruction_errors
    from mnist_vae.models.inference import evaluate_elbo, reconstruct

    started = time.perf_counter()
    # A model trained on binary pixels is judged on them, in the same way, by default.
    binarize = binarize or run.config.train.binarize
    model = run.load_model()
    data = data or load_mnist(run.config.train.data, report=report)
    x_float = to_float_images(binarize_test_set(data.x_test, binarize))
    labels = data.y_test.astype("int32") if model.conditional else None
    elbo = evaluate_elbo(model, x_float, data.y_test)
    iwae = iwae_negative_log_likelihood(model, x_float, labels, samples=iw_samples, seed=seed)
    result = {
        "binarized": binarize,
        "negative_elbo": elbo["loss"],
        "reconstruction": elbo["reconstruction"],
        "kl": elbo["kl"],
        "iwae_negative_log_likelihood": float(np.mean(iwae)),
        "iw_samples": iw_samples,
        **reconstruction_errors(x_float[..., 0], reconstruct(model, x_float, labels)),
    }
    if quality:
        quality_numbers = sample_quality(
            model, run, data, quality_samples, reference_path, seed, report, samplers=samplers
        )
        result.update(quality_numbers)
    result["seconds"] = round(time.perf_counter() - started, 1)
    if write:
        run.add_metrics(EVALUATION_KEYS[binarize], result)
    return result


def judge_samples(judge, test_features: np.ndarray, samples: np.ndarray) -> dict:
    """Fréchet distance to the test features, mean confidence and the blank fraction."""
    from mnist_vae.evaluation.metrics import blank_fraction, frechet_distance

    sample_features, sample_probabilities = judge.features_and_probabilities(samples)
    return {
        "frechet_distance": frechet_distance(test_features, sample_features),
        "sample_confidence": float(np.mean(sample_probabilities.max(axis=1))),
        "blank_fraction": blank_fraction(samples),
    }


def sample_quality(
    model, run: Run, data: MnistData, count: int, reference_path, seed: int, report,
    samplers: dict | None = None,
) -> dict:  # fmt: skip
    """Fréchet distance, confidence, blank fraction and labelled agreement under the
    reference classifier; the first three also for each fitted sampler in ``samplers``."""
    from mnist_vae.evaluation.reference import reference_classifier
    from mnist_vae.models.sampling import DIGIT_NOISE_VARIANCE, sample_digits

    judge = reference_classifier(data, path=reference_path, report=report)
    test_features = judge.features(data.x_test[:count])
    judged = judge_samples(judge, test_features, sample_digits(model, count, seed))
    agreement = []
    means = run.digit_means()
    for digit in range(NUM_CLASSES):
        drawn = sample_digits(
            model, LABELLED_PER_DIGIT, seed + digit, digit=digit, digit_means=means,
            noise_variance=DIGIT_NOISE_VARIANCE,
        )  # fmt: skip
        agreement.append(np.mean(np.argmax(judge.probabilities(drawn), axis=1) == digit))
    result = {
        **judged,
        "labelled_agreement": float(np.mean(agreement)),
        "labelled_agreement_by_digit": [round(float(a), 4) for a in agreement],
        "quality_samples": count,
        "reference_test_accuracy": judge.test_accuracy,
    }
    if samplers:
        result["samplers"] = {
            name: judge_samples(
                judge, test_features, sample_digits(model, count, seed, sampler=sampler)
            )
            for name, sampler in samplers.items()
        }
    return result
