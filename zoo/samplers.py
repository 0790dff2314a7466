"""Latent samplers fitted to a trained model's training codes (``mnist-vae sample --sampler``).

* ``gmm``: a Gaussian mixture fitted by EM (Ghosh et al. 2020, "From variational to
  deterministic autoencoders"; pythae's GaussianMixtureSampler, 10 full-covariance
  components);
* ``second_stage`` (``--sampler second-stage``): a second VAE u -> z trained on the
  codes (Dai & Wipf 2019, "Diagnosing and enhancing VAE models"), with a learned
  output variance gamma; sampling decodes u ~ N(0, I) to its mean code.

Both draw with ``mnist_vae.models.portable_random`` noise inside TensorFlow ops, so an
export's ``sample_NAME`` signature gives the same codes for the same seed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from mnist_vae.errors import RunError, UsageError, first_line
from mnist_vae.io import write_json_atomic, write_npy_atomic
from mnist_vae.models import portable_random
from mnist_vae.models.latent_samplers import CHOICE_STREAM, check_codes
from mnist_vae.models.losses import LOG_TWO_PI
from mnist_vae.registry import samplers

SETTINGS_FILE = "settings.json"


def _read_settings(directory: Path) -> dict[str, Any]:
    try:
        return json.loads((Path(directory) / SETTINGS_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise RunError(f"{directory}: unreadable sampler settings ({first_line(exc)})") from None


def _check_positive(kind: str, **values: float) -> None:
    for name, value in values.items():
        if not value > 0:
            raise UsageError(f"the {kind} sampler's {name} must be positive, got {value}")


def _not_fitted(kind: str) -> RunError:
    return RunError(f"the {kind} sampler is not fitted yet; call fit(codes) first")


# -- gmm --------------------------------------------------------------------------------


def gaussian_log_densities(
    codes: np.ndarray, means: np.ndarray, covariances: np.ndarray
) -> np.ndarray:
    """log N(code | mean_k, cov_k) for every code and component, shape (N, K)."""
    count, dim = codes.shape
    out = np.empty((count, len(means)))
    for k, (mean, covariance) in enumerate(zip(means, covariances, strict=True)):
        factor = np.linalg.cholesky(covariance)
        solved = np.linalg.solve(factor, (codes - mean).T)  # L y = (x - mu)
        log_det = 2.0 * np.sum(np.log(np.diag(factor)))
        out[:, k] = -0.5 * (np.sum(solved**2, axis=0) + log_det + dim * LOG_TWO_PI)
    return out


def log_sum_exp(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """log(sum(exp(values))) along ``axis``, without overflow."""
    top = np.max(values, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    return np.squeeze(top, axis=axis) + np.log(np.sum(np.exp(values - top), axis=axis))


def kmeans_plus_plus(codes: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` starting centres, each drawn with probability proportional to D(x)^2."""
    centres = [codes[rng.integers(len(codes))]]
    nearest = np.sum((codes - centres[0]) ** 2, axis=1)
    for _ in range(1, count):
        total = nearest.sum()
        index = rng.choice(len(codes), p=nearest / total) if total > 0 else rng.integers(len(codes))
        centres.append(codes[index])
        nearest = np.minimum(nearest, np.sum((codes - codes[index]) ** 2, axis=1))
    return np.array(centres)


def kmeans(codes: np.ndarray, count: int, rng: np.random.Generator, iterations: int) -> np.ndarray:
    """Hard assignments after k-means++ seeding and ``iterations`` Lloyd steps."""
    centres = kmeans_plus_plus(codes, count, rng)
    for _ in range(iterations + 1):
        distances = (
            np.sum(codes**2, axis=1)[:, None] - 2 * codes @ centres.T + np.sum(centres**2, axis=1)
        )
        labels = np.argmin(distances, axis=1)
        for k in range(count):
            members = codes[labels == k]
            if len(members):
                centres[k] = members.mean(axis=0)
    return labels


class GaussianMixtureSampler:
    """Gaussian mixture on the training codes, fitted by EM (Ghosh et al. 2020; pythae's)."""

    kind = "gmm"

    def __init__(
        self,
        components: int = 10,
        regularization: float = 1e-6,
        max_iterations: int = 200,
        tolerance: float = 1e-4,
        kmeans_iterations: int = 10,
    ) -> None:
        self.components = int(components)
        self.regularization = float(regularization)
        self.max_iterations = int(max_iterations)
        self.tolerance = float(tolerance)
        self.kmeans_iterations = int(kmeans_iterations)
        _check_positive(
            self.kind,
            components=self.components,
            max_iterations=self.max_iterations,
            tolerance=self.tolerance,
            regularization=self.regularization,
        )
        self.weights: np.ndarray | None = None
        self.means: np.ndarray | None = None
        self.covariances: np.ndarray | None = None
        self.fit_info: dict[str, Any] = {}

    @property
    def latent_dim(self) -> int:
        if self.means is None:
            raise _not_fitted(self.kind)
        return int(self.means.shape[1])

    def settings(self) -> dict[str, Any]:
        return {
            "components": self.components,
            "regularization": self.regularization,
            "max_iterations": self.max_iterations,
            "tolerance": self.tolerance,
            "kmeans_iterations": self.kmeans_iterations,
        }

    # -- EM --------------------------------------------------------------------------

    def _maximize(self, codes: np.ndarray, responsibilities: np.ndarray) -> None:
        """M-step: weights, means and regularised full covariances from soft counts."""
        dim = codes.shape[1]
        counts = responsibilities.sum(axis=0) + 10 * np.finfo(float).eps
        self.weights = counts / counts.sum()
        self.means = responsibilities.T @ codes / counts[:, None]
        covariances = np.empty((len(counts), dim, dim))
        for k in range(len(counts)):
            centred = codes - self.means[k]
            covariances[k] = (responsibilities[:, k, None] * centred).T @ centred / counts[k]
            covariances[k] += self.regularization * np.eye(dim)
        self.covariances = covariances

    def _expect(self, codes: np.ndarray) -> tuple[np.ndarray, float]:
        """E-step: responsibilities by log-sum-exp, and the mean log-likelihood."""
        joint = np.log(self.weights) + gaussian_log_densities(codes, self.means, self.covariances)
        total = log_sum_exp(joint, axis=1)
        return np.exp(joint - total[:, None]), float(np.mean(total))

    def fit(self, codes: np.ndarray, seed: int = 0) -> GaussianMixtureSampler:
        """EM from a seeded k-means++ start until the mean log-likelihood gains < tolerance."""
        codes = check_codes(codes)
        count = min(self.components, len(codes))
        labels = kmeans(codes, count, np.random.default_rng(seed), self.kmeans_iterations)
        self._maximize(codes, np.eye(count)[labels])
        previous, converged, iterations = -np.inf, False, 0
        while iterations < self.max_iterations and not converged:
            responsibilities, mean_log_likelihood = self._expect(codes)
            self._maximize(codes, responsibilities)
            iterations += 1
            converged = abs(mean_log_likelihood - previous) < self.tolerance
            previous = mean_log_likelihood
        self.fit_info = {
            "codes": len(codes),
            "latent_dim": codes.shape[1],
            "seed": int(seed),
            "iterations": iterations,
            "converged": converged,
            "mean_log_likelihood": float(np.mean(self.log_likelihood(codes))),
        }
        return self

    def log_likelihood(self, codes: np.ndarray) -> np.ndarray:
        """log p(code) under the mixture, one value per code."""
        if self.means is None:
            raise _not_fitted(self.kind)
        codes = np.asarray(codes, dtype=np.float64)
        joint = np.log(self.weights) + gaussian_log_densities(codes, self.means, self.covariances)
        return log_sum_exp(joint, axis=1)

    # -- sampling --------------------------------------------------------------------

    def sample(self, count, seed):
        """A component by inverse CDF of one uniform, then mean + L eps; portable noise."""
        if self.means is None:
            raise _not_fitted(self.kind)
        count = tf.cast(count, tf.int32)
        seed = tf.cast(seed, tf.int32)
        dim = self.latent_dim
        noise = portable_random.standard_normal(tf.stack([count, dim]), seed)
        uniform = portable_random.uniform(tf.reshape(count, [1]), seed + CHOICE_STREAM)
        edges = tf.constant(np.cumsum(self.weights)[:-1], tf.float32)
        chosen = tf.reduce_sum(tf.cast(uniform[:, None] > edges[None, :], tf.int32), axis=1)
        factors = np.linalg.cholesky(self.covariances).astype(np.float32)
        means = tf.gather(tf.constant(self.means.astype(np.float32)), chosen)
        factor = tf.gather(tf.constant(factors), chosen)  # [count, D, D]
        return means + tf.reduce_sum(factor * noise[:, None, :], axis=-1)

    def trackables(self) -> list[Any]:
        return []  # constants only

    def describe(self) -> dict[str, Any]:
        return {**self.settings(), **self.fit_info}

    def save(self, directory: Path) -> None:
        if self.means is None:
            raise _not_fitted(self.kind)
        directory = Path(directory)
        for name in ("weights", "means", "covariances"):
            write_npy_atomic(directory / f"{name}.npy", getattr(self, name))
        write_json_atomic(directory / SETTINGS_FILE, self.describe())

    @classmethod
    def load(cls, directory: Path) -> GaussianMixtureSampler:
        directory = Path(directory)
        settings = _read_settings(directory)
        sampler = cls(**{key: settings[key] for key in cls().settings() if key in settings})
        try:
            for name in ("weights", "means", "covariances"):
                setattr(sampler, name, np.load(directory / f"{name}.npy"))
        except (OSError, ValueError) as exc:
            raise RunError(f"{directory}: unreadable mixture ({first_line(exc)})") from None
        sampler.fit_info = {
            key: value for key, value in settings.items() if key not in sampler.settings()
        }
        return sampler


samplers.register(GaussianMixtureSampler, name="gmm")


# -- second_stage -------------------------------------------------------------------------


def _mlp(inputs: int, outputs: int, hidden: int, depth: int, name: str) -> keras.Model:
    layers = [keras.Input((inputs,))]
    layers += [keras.layers.Dense(hidden, activation="relu") for _ in range(depth)]
    layers.append(keras.layers.Dense(outputs))
    return keras.Sequential(layers, name=name)


@keras.saving.register_keras_serializable(package="mnist_vae")
class SecondStageVAE(keras.Model):
    """Dai & Wipf (2019)'s second stage: a Gaussian VAE u -> z on standardised codes.

    p(z | u) = N(decoder(u), gamma I) with gamma learned (the paper's point: the
    variance shrinks as the fit tightens, instead of a fixed noise floor blurring the
    codes); q(u | z) is a diagonal Gaussian; u has the code's size.

    gamma starts at ``initial_gamma``. At 1 the standardised codes, whose mean and
    spread N(0, I) already matches, leave the VAE at its collapsed solution (decoder =
    the mean, KL 0), which 40 epochs do not escape: on resconv's 16-D codes it ended
    with KL 0.6 nats and draws that barely varied. From 0.3 it encodes at once.
    """

    def __init__(
        self,
        latent_dim: int,
        hidden: int = 256,
        depth: int = 3,
        seed: int = 0,
        initial_gamma: float = 0.3,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        self.hidden = int(hidden)
        self.depth = int(depth)
        self.seed = int(seed)
        self.initial_gamma = float(initial_gamma)
        self.encoder = _mlp(
            self.latent_dim, 2 * self.latent_dim, self.hidden, self.depth, "second_stage_encoder"
        )
        self.decoder = _mlp(
            self.latent_dim, self.latent_dim, self.hidden, self.depth, "second_stage_decoder"
        )
        self.log_gamma = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(math.log(self.initial_gamma)),
            name="log_gamma",
        )
        # The codes' per-dimension mean and spread: the VAE sees standardised codes.
        self.code_mean = self.add_weight(
            shape=(self.latent_dim,), initializer="zeros", trainable=False, name="code_mean"
        )
        self.code_scale = self.add_weight(
            shape=(self.latent_dim,), initializer="ones", trainable=False, name="code_scale"
        )
        self.noise = keras.random.SeedGenerator(self.seed)
        self.trackers = {
            name: keras.metrics.Mean(name=name) for name in ("loss", "reconstruction", "kl")
        }
        self.built = True

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            latent_dim=self.latent_dim,
            hidden=self.hidden,
            depth=self.depth,
            seed=self.seed,
            initial_gamma=self.initial_gamma,
        )
        return config

    @property
    def metrics(self) -> list:
        return list(self.trackers.values())

    def adapt(self, codes: np.ndarray) -> None:
        """Set the standardisation from the training codes."""
        self.code_mean.assign(codes.mean(axis=0).astype("float32"))
        self.code_scale.assign(np.maximum(codes.std(axis=0), 1e-6).astype("float32"))

    def loss_terms(self, codes, training: bool = False):
        """Per-code -log p(z | u) (Gaussian, variance gamma) and KL(q(u | z) || N(0, I))."""
        ops = keras.ops
        x = (ops.cast(codes, "float32") - self.code_mean) / self.code_scale
        stats = self.encoder(x, training=training)
        mean, log_variance = stats[:, : self.latent_dim], stats[:, self.latent_dim :]
        noise = keras.random.normal(ops.shape(mean), seed=self.noise)
        u = mean + ops.exp(0.5 * log_variance) * noise
        decoded = self.decoder(u, training=training)
        reconstruction = 0.5 * ops.sum(ops.square(x - decoded), axis=-1) * ops.exp(
            -self.log_gamma
        ) + 0.5 * self.latent_dim * (self.log_gamma + LOG_TWO_PI)
        kl = 0.5 * ops.sum(ops.exp(log_variance) + ops.square(mean) - 1.0 - log_variance, axis=-1)
        return reconstruction, kl

    def train_step(self, data):
        codes = keras.utils.unpack_x_y_sample_weight(data)[0]
        with tf.GradientTape() as tape:
            reconstruction, kl = self.loss_terms(codes, training=True)
            loss = keras.ops.mean(reconstruction + kl)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        for name, value in (
            ("loss", reconstruction + kl),
            ("reconstruction", reconstruction),
            ("kl", kl),
        ):
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def call(self, codes, training: bool = False):
        """The reconstruction of ``codes`` through u's mean (for inspection)."""
        ops = keras.ops
        x = (ops.cast(codes, "float32") - self.code_mean) / self.code_scale
        mean = self.encoder(x, training=training)[:, : self.latent_dim]
        return self.code_mean + self.code_scale * self.decoder(mean, training=training)

    def sample_codes(self, count, seed):
        """u ~ N(0, I) from portable noise, decoded to its mean code, in the codes' scale."""
        u = portable_random.standard_normal(
            tf.stack([tf.cast(count, tf.int32), self.latent_dim]), seed
        )
        return self.code_mean + self.code_scale * self.decoder(u, training=False)


class SecondStageSampler:
    """A second-stage VAE on the training codes (Dai & Wipf 2019), learned output variance."""

    kind = "second_stage"
    MODEL_FILE = "second_stage.keras"

    def __init__(
        self,
        hidden: int = 256,
        depth: int = 3,
        epochs: int = 40,
        batch_size: int = 256,
        learning_rate: float = 1e-3,
        initial_gamma: float = 0.3,
    ) -> None:
        self.hidden = int(hidden)
        self.depth = int(depth)
        self.epochs = int(epochs)
        self.batch_size = int(batch_size)
        self.learning_rate = float(learning_rate)
        self.initial_gamma = float(initial_gamma)
        _check_positive(
            self.kind,
            hidden=self.hidden,
            depth=self.depth,
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            initial_gamma=self.initial_gamma,
        )
        self.model: SecondStageVAE | None = None
        self.fit_info: dict[str, Any] = {}

    @property
    def latent_dim(self) -> int:
        if self.model is None:
            raise _not_fitted(self.kind)
        return self.model.latent_dim

    def settings(self) -> dict[str, Any]:
        return {
            "hidden": self.hidden,
            "depth": self.depth,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "initial_gamma": self.initial_gamma,
        }

    def fit(self, codes: np.ndarray, seed: int = 0) -> SecondStageSampler:
        """Adam with a cosine decay over ``epochs``; seeded weights, shuffling and noise."""
        codes = check_codes(codes).astype("float32")
        keras.utils.set_random_seed(seed)
        model = SecondStageVAE(
            codes.shape[1], self.hidden, self.depth, seed=seed, initial_gamma=self.initial_gamma
        )
        model.adapt(codes)
        steps_per_epoch = math.ceil(len(codes) / self.batch_size)
        schedule = keras.optimizers.schedules.CosineDecay(
            self.learning_rate, self.epochs * steps_per_epoch, alpha=0.01
        )
        # A small MLP: XLA's compile time costs more than it saves, and running several
        # steps per call spares Keras's per-step overhead.
        model.compile(
            optimizer=keras.optimizers.Adam(schedule),
            jit_compile=False,
            steps_per_execution=min(steps_per_epoch, 32),
        )
        history = model.fit(
            codes, batch_size=self.batch_size, epochs=self.epochs, shuffle=True, verbose=0
        ).history
        self.model = model
        self.fit_info = {
            "codes": len(codes),
            "latent_dim": codes.shape[1],
            "seed": int(seed),
            "first_epoch_loss": float(history["loss"][0]),
            "final_loss": float(history["loss"][-1]),
            "final_kl": float(history["kl"][-1]),
            "gamma": float(np.exp(keras.ops.convert_to_numpy(model.log_gamma))),
        }
        return self

    def sample(self, count, seed):
        if self.model is None:
            raise _not_fitted(self.kind)
        return self.model.sample_codes(count, seed)

    def trackables(self) -> list[Any]:
        return [] if self.model is None else [self.model]

    def describe(self) -> dict[str, Any]:
        return {**self.settings(), **self.fit_info}

    def save(self, directory: Path) -> None:
        if self.model is None:
            raise _not_fitted(self.kind)
        self.model.save(Path(directory) / self.MODEL_FILE)
        write_json_atomic(Path(directory) / SETTINGS_FILE, self.describe())

    @classmethod
    def load(cls, directory: Path) -> SecondStageSampler:
        directory = Path(directory)
        settings = _read_settings(directory)
        sampler = cls(**{key: settings[key] for key in cls().settings() if key in settings})
        try:
            sampler.model = keras.saving.load_model(directory / cls.MODEL_FILE, compile=False)
        except Exception as exc:
            raise RunError(
                f"{directory / cls.MODEL_FILE} cannot be loaded ({first_line(exc)})"
            ) from None
        sampler.fit_info = {
            key: value for key, value in settings.items() if key not in sampler.settings()
        }
        return sampler


samplers.register(SecondStageSampler, name="second_stage")
