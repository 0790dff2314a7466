"""``cvae``: the conditional VAE, q(z | x, y) and p(x | z, y), conditioned by concatenation."""

from __future__ import annotations

from dataclasses import dataclass

import keras

from mnist_vae.config import IMAGE_SHAPE, NUM_CLASSES, ModelConfig, StrategyOptions
from mnist_vae.models import VAE, TrainingContext, build_vae, with_options
from mnist_vae.registry import strategies
from mnist_vae.zoo.encoders import ConditionSplit, split_encoder


@dataclass(frozen=True)
class CvaeOptions(StrategyOptions):
    """The conditional VAE has no options beyond the model config."""


@keras.saving.register_keras_serializable(package="mnist_vae")
class CVAE(VAE):
    """A VAE whose encoder and decoder also see the one-hot digit label.

    The encoder gets the label as 10 extra image channels (constant over the
    image), the decoder gets it appended to z; any registered architecture works.
    Sampling with label d draws directly from p(x | z, y=d), z ~ N(0, I).
    """

    conditional = True
    options_class = CvaeOptions

    def _one_hot(self, labels):
        if labels is None:
            raise ValueError("a conditional VAE needs the digit labels as well as the images")
        return keras.ops.one_hot(
            keras.ops.cast(keras.ops.reshape(labels, (-1,)), "int32"), NUM_CLASSES
        )

    def encoder_inputs(self, images, labels=None):
        one_hot = self._one_hot(labels)
        planes = keras.ops.ones_like(images[..., :1]) * one_hot[:, None, None, :]
        return keras.ops.concatenate([images, planes], axis=-1)

    def condition_split(self) -> ConditionSplit | None:
        """The encoder split after its first layer (``ConditionSplit``), or None.

        A hook: ``encode_rows`` uses it to compute an image's part of the encoder once
        for all the labels it is encoded under. None (an encoder ``split_encoder`` cannot
        split) keeps the plain path through ``encoder_inputs``; a strategy or plugin whose
        encoder splits another way overrides this.
        """
        return split_encoder(self.encoder, NUM_CLASSES)

    def encode_rows(self, inputs, rows, labels, training: bool = False):
        """(mean, log_variance) of q(z | x, y) for x = ``inputs[rows[r]]``, y = ``labels[r]``.

        Several rows may share an input (m2 encodes an unlabelled image under every
        label): with a split encoder the input's part of the first layer is computed once
        per input and never tiled, and no label planes are built; otherwise the whole
        encoder runs on the gathered rows with their labels.
        """
        ops = keras.ops
        labels = ops.cast(ops.reshape(labels, (-1,)), "int32")
        split = self.condition_split()
        if split is None:
            selected = ops.take(inputs, rows, axis=0)
            stats = self.encoder(self.encoder_inputs(selected, labels), training=training)
        else:
            stats = split(inputs, rows, labels, training=training)
        stats = ops.cast(stats, "float32")  # bfloat16 networks: the ELBO stays float32
        return stats[:, : self.latent_dim], stats[:, self.latent_dim :]

    def decoder_inputs(self, z, labels=None):
        return keras.ops.concatenate([z, self._one_hot(labels)], axis=-1)

    def call(self, inputs, training: bool = False):
        images, labels = inputs
        mean, log_variance = self.encode_distribution(images, labels, training=training)
        z = self.sampler(mean, log_variance) if training else mean
        return self.decode(z, labels, training=training)

    def export_input_signature(self) -> list:
        """What ``call`` takes, for ``model.export``: (images, integer labels)."""
        return [
            (
                keras.InputSpec(shape=(None, *IMAGE_SHAPE), dtype="float32"),
                keras.InputSpec(shape=(None,), dtype="int32"),
            )
        ]


@strategies.register
@with_options(CvaeOptions)
def cvae(
    config: ModelConfig, options: CvaeOptions, context: TrainingContext, seed: int
) -> keras.Model:
    """Conditional VAE: encoder and decoder also see the one-hot class label."""
    return build_vae(CVAE, config, options, seed, condition_dim=NUM_CLASSES)
