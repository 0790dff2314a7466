"""What a trained model is worth: ELBO, the IWAE bound, Fréchet distance and
agreement under a reference classifier, reconstruction errors."""

from mnist_vae.evaluation.comparison import CompareRequest, Comparison, compare_runs
from mnist_vae.evaluation.iwae import iwae_negative_log_likelihood
from mnist_vae.evaluation.metrics import frechet_distance, reconstruction_errors
from mnist_vae.evaluation.provenance import EVALUATION_KEYS, data_for_run, evaluation_key
from mnist_vae.evaluation.run_evaluation import (
    Evaluation,
    EvaluationRequest,
    evaluate_request,
    evaluate_run,
)

__all__ = [
    "EVALUATION_KEYS",
    "CompareRequest",
    "Comparison",
    "Evaluation",
    "EvaluationRequest",
    "compare_runs",
    "data_for_run",
    "evaluate_request",
    "evaluate_run",
    "evaluation_key",
    "frechet_distance",
    "iwae_negative_log_likelihood",
    "reconstruction_errors",
]
