"""``mnist-vae evaluate``: everything a run is worth, written into its metrics.json.

ELBO (as training reports it), the tighter IWAE bound, reconstruction errors, and
sample quality judged by the reference classifier: Fréchet distance of its
penultimate features between test images and samples, its mean confidence on
samples, the fraction of blank samples, and how often it agrees with the class a
labelled synthesis intended. Samples come from the prior and, when given, from
latent samplers fitted to the run (``samplers``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mnist_vae import progress
from mnist_vae.config import BINARIZATIONS, NUM_CLASSES
from mnist_vae.data import MnistData, binarize_test_set, same_data, to_float_images
from mnist_vae.declarations import REQUIRED, data_setting, option, seed_setting
from mnist_vae.evaluation.provenance import (
    class_agreement_note,
    data_for_run,
    evaluation_key,
    same_classes,
)
from mnist_vae.runs import Run

DEFAULT_IW_SAMPLES = 200
DEFAULT_QUALITY_SAMPLES = 10_000
LABELLED_PER_DIGIT = 1_000
# How the title of evaluate's table names the test set each binarization gives.
TEST_SET_SUFFIX = {
    "none": "",
    "threshold": " (thresholded test set)",
    "dynamic": " (dynamically binarized test set)",
}


@dataclass(frozen=True)
class EvaluationRequest:
    """What ``mnist-vae evaluate`` is asked: the run, the bound's K, the test pixels,
    the sample-quality settings (``samples`` per set, the judge, latent samplers) and
    the data (left out: the run's own). The command's argument and flags are these
    fields, declared here once."""

    run: str = option(REQUIRED, "The run to evaluate.", path="folder", argument=True)
    iw_samples: int = option(
        DEFAULT_IW_SAMPLES, "K for the IWAE bound.", minimum=1, maximum=100_000
    )
    binarize: str | None = option(
        None,
        "Test on binary pixels: threshold (also plain --binarize) at 0.5, or dynamic (one "
        "fixed-seed draw from the grey levels); none for grey levels. [default: as the run "
        "trained]",
        choices=BINARIZATIONS,
        flag_value="threshold",
    )
    samples: int = option(
        DEFAULT_QUALITY_SAMPLES,
        "Samples for the Fréchet distance and confidence.",
        minimum=100,
        maximum=100_000,
    )
    reference_classifier: str | None = option(
        None,
        "A saved reference classifier (.keras with its .json) instead of the cached one "
        "(left out, one is trained on first use and cached).",
        path="existing file",
    )
    no_quality: bool = option(
        False,
        "Skip the sample-quality numbers (no reference classifier needed).",
        switch=True,
    )
    sampler_names: tuple[str, ...] = option(
        (),
        "Also judge samples from this latent sampler (gmm, second-stage, ...), fitted "
        "first if the run has none saved. Repeatable.",
        registry="samplers",
        repeat=True,
        flag="sampler",
    )
    seed: int = seed_setting("Random seed for the IWAE noise and the samples.")
    data: str | None = data_setting()


@dataclass(frozen=True)
class Evaluation:
    """An evaluation done: the run, the data it was on, its key in metrics.json, the result."""

    run: Run
    data: MnistData
    key: str
    result: dict

    def rows(self) -> list[tuple[str, float]]:
        """The result's numbers by name (a latent sampler's as ``NAME: metric``)."""
        note = self.result.get("labelled_agreement_note")
        rows = list(self.result.items())
        for sampler, numbers in self.result.get("samplers", {}).items():
            rows += [(f"{sampler}: {name}", value) for name, value in numbers.items()]
        return [
            (
                "labelled_agreement (by label number: not the run's classes)"
                if name == "labelled_agreement" and note is not None
                else name,
                value,
            )
            for name, value in rows
            if isinstance(value, float)
        ]

    @property
    def title(self) -> str:
        """The run, and which binarization of the test set it was judged on."""
        return f"{self.run.path}{TEST_SET_SUFFIX[self.result['binarized']]}"

    def table(self) -> Any:
        """The numbers as ``mnist-vae evaluate`` prints them: a rich table under ``title``."""
        from rich.table import Table

        table = Table(title=self.title)
        table.add_column("metric")
        table.add_column("value", justify="right")
        for name, value in self.rows():
            table.add_row(name, f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}")
        return table


def evaluate_request(request: EvaluationRequest, *, report=print) -> Evaluation:
    """``mnist-vae evaluate`` as one call: check, fit missing samplers, evaluate, write.

    Usage errors come before any long work. ``report`` gets the notes (data, judge,
    samplers) and, at the end, where the result was stored::

        from mnist_vae.evaluation import EvaluationRequest, evaluate_request

        done = evaluate_request(EvaluationRequest("runs/net1", sampler_names=("gmm",)))
        done.result["frechet_distance"]
    """
    from mnist_vae.data import data_label
    from mnist_vae.errors import UsageError
    from mnist_vae.io import check_writable_dir
    from mnist_vae.runs import load_run

    check_writable_dir(request.run, "evaluate adds its results to the run's metrics.json")
    if request.reference_classifier and request.no_quality:
        raise UsageError("--reference-classifier judges sample quality; drop --no-quality")
    run = load_run(request.run)
    if request.sampler_names and request.no_quality:
        raise UsageError("--sampler asks for sample quality; drop --no-quality")
    keys = _sampler_keys(request.sampler_names)  # an unknown name fails before any work
    data = data_for_run(run, request.data, report=report)
    result = evaluate_run(
        run,
        data=data,
        iw_samples=request.iw_samples,
        binarize=request.binarize,
        quality=not request.no_quality,
        quality_samples=request.samples,
        reference_path=request.reference_classifier,
        seed=request.seed,
        report=report,
        samplers=_fitted_samplers(run, keys, data, report),
    )
    done = Evaluation(run, data, evaluation_key(run, data, result["binarized"]), result)
    other = result["data"]["trained_on_this_data"] is False
    report(
        f"evaluated on {data_label(data.provenance)}"
        + (f", not the run's training data ({data_label(run.record.get('data'))})" if other else "")
        + f"; stored as {done.key!r} in {run.path / 'metrics.json'}, drawn in "
        f"{run.path / 'figures' / (done.key + '.png')}"
    )
    if result.get("labelled_agreement_note") is not None:
        report(f"warning: {result['labelled_agreement_note']}")
    return done


def _sampler_keys(names) -> list[str]:
    """The latent samplers asked for, by registry key, once each; the prior is always judged."""
    from mnist_vae.models.latent_samplers import PRIOR, sampler_key

    return [key for key in dict.fromkeys(map(sampler_key, names)) if key != PRIOR]


def _fitted_samplers(run: Run, keys: list[str], data: MnistData, report) -> dict | None:
    """The run's latent samplers ``keys`` by display name, fitted first where missing."""
    if not keys:
        return None
    from mnist_vae.models.latent_samplers import display_name
    from mnist_vae.models.sampling import check_sampler_use
    from mnist_vae.training.sampler_fitting import run_sampler

    model = run.load_model()
    check_sampler_use(model)
    return {
        display_name(key): run_sampler(run, key, model=model, data=data, report=report)
        for key in keys
    }


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

    ``data`` defaults to the data the run was trained on (checked by its hashes);
    other data is evaluated too, and kept beside the run's own evaluation
    (``provenance.evaluation_key``). The result records the data and the judge.
    ``samplers`` maps names to fitted latent samplers (``Run.load_sampler``) whose
    samples are judged beside the prior's, under ``samplers`` in the result.
    """
    started = time.perf_counter()
    # A model trained on binary pixels is judged on them, in the same way, by default.
    binarize = binarize or run.config.train.binarize
    data = data or data_for_run(run, report=report)
    # The judge first: a judge of other data is refused before the long work.
    judge = _judge(data, reference_path, report) if quality else None
    model = run.load_model()
    result, iwae = _test_set_numbers(model, data, binarize, iw_samples, seed)
    result = {
        "data": {
            **data.provenance,
            "trained_on_this_data": same_data(run.record.get("data"), data.provenance),
        },
        **result,
    }
    seen: dict = {}  # per-sample arrays for the figure
    if quality:
        result.update(
            sample_quality(model, run, judge, quality_samples, seed, samplers=samplers, seen=seen)
        )
        # The run draws its label k; the judge knows this data's class k: say so when
        # those need not be one class (another dataset's classes are scored by number).
        recorded = run.record.get("data")
        result["labelled_agreement_same_classes"] = same_classes(recorded, data.provenance)
        note = class_agreement_note(recorded, data.provenance)
        if note is not None:
            result["labelled_agreement_note"] = note
    result["seconds"] = round(time.perf_counter() - started, 1)
    if write:
        key = evaluation_key(run, data, binarize)
        run.add_metrics(key, result)
        _draw(run.path / "figures" / f"{key}.png", result, iwae, data, judge, seen)
    return result


def _test_set_numbers(
    model, data: MnistData, binarize: str, iw_samples: int, seed: int
) -> tuple[dict, np.ndarray]:
    """The ELBO, the IWAE bound (with each image's) and reconstruction errors on the
    test set, binarized as asked; and what the model adds (e.g. m2's classifier error)."""
    from mnist_vae.evaluation.iwae import iwae_negative_log_likelihood
    from mnist_vae.evaluation.metrics import reconstruction_errors
    from mnist_vae.models.inference import evaluate_elbo, reconstruct

    x_float = to_float_images(binarize_test_set(data.x_test, binarize))
    labels = data.y_test.astype("int32") if model.conditional else None
    elbo = evaluate_elbo(model, x_float, data.y_test)
    with progress.task(f"IWAE bound, K={iw_samples}", total=len(x_float), unit="images") as bound:
        iwae = iwae_negative_log_likelihood(
            model,
            x_float,
            labels,
            samples=iw_samples,
            seed=seed,
            on_chunk=lambda done: bound.update(completed=done),
        )
    result = {
        "binarized": binarize,
        "negative_elbo": elbo["loss"],
        "reconstruction": elbo["reconstruction"],
        "kl": elbo["kl"],
        "iwae_negative_log_likelihood": float(np.mean(iwae)),
        "iw_samples": iw_samples,
        **reconstruction_errors(x_float[..., 0], reconstruct(model, x_float, labels)),
    }
    extra = getattr(model, "extra_test_metrics", None)  # e.g. m2's classifier error
    if extra is not None:
        result.update(extra(x_float, data.y_test))
    return result, iwae


def _draw(path: Path, result: dict, iwae: np.ndarray, data: MnistData, judge, seen) -> None:
    from mnist_vae.data import data_label
    from mnist_vae.evaluation.evaluation_figure import per_class_means, save_evaluation_figure

    path.parent.mkdir(exist_ok=True)
    quality = judge is not None
    save_evaluation_figure(
        path,
        nll_by_class=per_class_means(np.asarray(iwae), data.y_test),
        nll_mean=result["iwae_negative_log_likelihood"],
        iw_samples=result["iw_samples"],
        sample_confidence=seen.get("confidence") if quality else None,
        test_confidence=judge.test_confidence if quality else None,
        agreement_by_class=result.get("labelled_agreement_by_digit") if quality else None,
        class_names=list(data.class_names),
        agreement_note=result.get("labelled_agreement_note") if quality else None,
        title=f"evaluation on {data_label(data.provenance)}, {result['binarized']} binarization"
        if result["binarized"] != "none"
        else f"evaluation on {data_label(data.provenance)}",
    )


class _Judge:
    """The reference classifier with its view of this data's test set, computed once."""

    def __init__(self, classifier, data: MnistData) -> None:
        self.classifier = classifier
        with progress.task(
            "judging the test images", total=len(data.x_test), unit="images"
        ) as judged:
            features, probabilities = classifier.features_and_probabilities(data.x_test, judged)
        self.test_features = features
        self.test_confidence = probabilities.max(axis=1)
        # Measured here, on this data: the accuracy in its own file may be of other data.
        self.test_accuracy = float(np.mean(np.argmax(probabilities, axis=1) == data.y_test))
        self.record = {
            **classifier.describe(),
            "test_accuracy": self.test_accuracy,
            "trained_on_this_data": None
            if classifier.trained_on is None
            else classifier.trained_on.get("train_sha256") == data.provenance["train_sha256"],
        }


def _judge(data: MnistData, reference_path, report) -> _Judge:
    from mnist_vae.evaluation.reference import MIN_TEST_ACCURACY, reference_classifier

    classifier = reference_classifier(data, path=reference_path, report=report)
    pinned = (
        " (pinned: the same on every machine)" if classifier.path.parent.name == "pinned" else ""
    )
    report(f"judge: reference classifier {classifier.path.name}{pinned}")
    judge = _Judge(classifier, data)
    if judge.test_accuracy < MIN_TEST_ACCURACY and data.canonical:
        report(
            f"warning: the reference classifier scores {100 * judge.test_accuracy:.2f}% on "
            f"this test set (below {100 * MIN_TEST_ACCURACY:.1f}%); its Frechet distances "
            "and confidences are less trustworthy"
        )
    return judge


def judge_samples(
    judge, test_features: np.ndarray, samples: np.ndarray, seen: dict | None = None, advance=None
) -> dict:
    """Fréchet distance to the test features, mean confidence and the blank fraction.

    ``seen``, if given, receives each sample's confidence (``confidence``); ``advance``
    (a progress task) the number of samples judged, batch by batch.
    """
    from mnist_vae.evaluation.metrics import blank_fraction, frechet_distance

    sample_features, sample_probabilities = judge.features_and_probabilities(samples, advance)
    if seen is not None:
        seen["confidence"] = sample_probabilities.max(axis=1)
    return {
        "frechet_distance": frechet_distance(test_features, sample_features),
        "sample_confidence": float(np.mean(sample_probabilities.max(axis=1))),
        "blank_fraction": blank_fraction(samples),
    }


def sample_quality(
    model,
    run: Run,
    judge: _Judge,
    count: int,
    seed: int,
    samplers: dict | None = None,
    seen: dict | None = None,
) -> dict:
    """Fréchet distance, confidence, blank fraction and labelled agreement under the
    reference classifier; the first three also for each fitted sampler in ``samplers``."""
    from mnist_vae.models.sampling import DIGIT_NOISE_VARIANCE, sample_digits

    test_features = judge.test_features[:count]
    total = count * (1 + len(samplers or {})) + NUM_CLASSES * LABELLED_PER_DIGIT
    with progress.task("sample quality", total=total, unit="images") as done:
        done.update(description="sample quality: prior samples")
        judged = judge_samples(
            judge.classifier, test_features, sample_digits(model, count, seed), seen, done
        )
        agreement = []
        means = run.digit_means()
        for digit in range(NUM_CLASSES):
            done.update(description=f"sample quality: labelled draws of class {digit}")
            drawn = sample_digits(
                model,
                LABELLED_PER_DIGIT,
                seed + digit,
                digit=digit,
                digit_means=means,
                noise_variance=DIGIT_NOISE_VARIANCE,
            )
            probabilities = judge.classifier.probabilities(drawn, done)
            agreement.append(np.mean(np.argmax(probabilities, axis=1) == digit))
        result = {
            **judged,
            "labelled_agreement": float(np.mean(agreement)),
            "labelled_agreement_by_digit": [round(float(a), 4) for a in agreement],
            "quality_samples": count,
            "reference_test_accuracy": judge.test_accuracy,
            "judge": judge.record,
        }
        for name, sampler in (samplers or {}).items():
            done.update(description=f"sample quality: {name} samples")
            drawn = sample_digits(model, count, seed, sampler=sampler)
            result.setdefault("samplers", {})[name] = judge_samples(
                judge.classifier, test_features, drawn, advance=done
            )
    return result
