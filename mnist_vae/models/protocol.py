"""The generative-model protocol: what evaluation, sampling, export and figures use.

Nothing downstream assumes a diagonal-Gaussian encoder or an N(0, I) prior: a model
with a learned, discrete or hierarchical prior plugs in by providing these.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class GenerativeModel(Protocol):
    """A trained generative model of images (a ``keras.Model`` in practice).

    * ``latent_shape``: the shape of one code z, e.g. ``(16,)``;
    * ``conditional``: whether encode/decode/sample also take class labels;
    * ``encode(images, labels)``: a deterministic code per image (e.g. the posterior mean);
    * ``posterior_parameters(images, labels)``: the named tensors that describe q(z|x)
      (``mean`` and ``log_variance`` for Gaussian posteriors), exported as ``encode``;
    * ``decode(z, labels)``: the mean image of p(x|z), in [0, 1];
    * ``sample_prior(count, seed)``: ``count`` codes from the model's own prior, the
      same for the same seed wherever it runs (Python, SavedModel, TFLite);
    * ``sample(count, seed, labels)``: ``decode(sample_prior(count, seed), labels)``;
    * ``log_density_terms(images, labels, samples, seed_generator)``: for ``samples``
      draws z_k ~ q(z|x), the tensors ``log_likelihood`` (log p(x|z_k)), ``log_prior``
      (log p(z_k)) and ``log_posterior`` (log q(z_k|x)), each [samples, batch]: all
      an importance-weighted bound needs.
    """

    conditional: bool

    @property
    def latent_shape(self) -> tuple[int, ...]: ...

    def encode(self, images: Any, labels: Any = None) -> Any: ...

    def posterior_parameters(self, images: Any, labels: Any = None) -> dict[str, Any]: ...

    def decode(self, z: Any, labels: Any = None) -> Any: ...

    def sample_prior(self, count: Any, seed: Any) -> Any: ...

    def sample(self, count: Any, seed: Any = 0, labels: Any = None) -> Any: ...

    def log_density_terms(
        self, images: Any, labels: Any, samples: int, seed_generator: Any
    ) -> dict[str, Any]: ...
