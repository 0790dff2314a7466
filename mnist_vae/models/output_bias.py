"""``--output-bias mean``: the decoder starts at the training images' mean pixels.

Burda, Grosse & Salakhutdinov (2016) set the output layer's biases to the logits of
the training set's mean pixel intensities, so the untrained decoder already draws the
average digit and the first updates go to the latent code rather than to the border
pixels. Public reproductions clip the means to [0.001, 0.999] first, as done here.
"""

from __future__ import annotations

import numpy as np

from mnist_vae.errors import ConfigError

MEAN_CLIP = 1e-3


def mean_pixel_logits(images: np.ndarray) -> np.ndarray:
    """logit(clip(mean pixel)) over ``images`` (uint8 0-255 or floats in [0, 1]), per pixel."""
    mean = np.mean(images, axis=0, dtype=np.float64)
    if images.dtype == np.uint8:
        mean = mean / 255.0
    mean = np.clip(mean, MEAN_CLIP, 1.0 - MEAN_CLIP)
    return np.log(mean / (1.0 - mean)).astype("float32")


def per_pixel_output_bias(decoder, pixels: int):
    """The decoder's last bias variable if it has one value per pixel, else None."""
    for layer in reversed(decoder.layers):
        bias = getattr(layer, "bias", None)
        if layer.weights and bias is None:
            return None  # the last layer with weights has no bias: no per-pixel one
        if bias is not None:
            return bias if int(np.prod(bias.shape)) == pixels else None
    return None


def set_output_bias_to_mean(model, images: np.ndarray) -> None:
    """Set ``model.decoder``'s per-pixel output bias to ``mean_pixel_logits(images)``.

    Raises ``ConfigError`` (a usage error) for a decoder without one bias per pixel,
    e.g. a convolutional decoder, whose last bias is one per channel.
    """
    logits = mean_pixel_logits(images)
    bias = checked_output_bias(model.decoder, logits.size)
    bias.assign(np.reshape(logits, bias.shape))


def checked_output_bias(decoder, pixels: int):
    """``per_pixel_output_bias``, or the ``ConfigError`` that says a decoder has none."""
    bias = per_pixel_output_bias(decoder, pixels)
    if bias is None:
        raise ConfigError(
            f"--output-bias mean needs a decoder whose last layer has one bias per pixel "
            f"({pixels}), as mlp's has; {decoder.name} has none: use --output-bias zeros"
        )
    return bias
