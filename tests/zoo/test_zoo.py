"""The zoo's networks: the report's listings pinned by parameter count, shapes for all."""

from __future__ import annotations

import pytest

from mnist_vae.errors import ConfigError
from mnist_vae.models import build_model, model_config
from mnist_vae.registry import architectures, decoders, encoders

# Parameter counts at latent_dim = 2 implied by the report's layer listings.
REPORT_COUNTS = {
    "net1": (31_364, 25_089),
    "net2": (31_364, 62_017),
    "net3": (144_836, 39_649),
    "net4": (403_972, 25_089),
}


@pytest.mark.parametrize("arch", sorted(REPORT_COUNTS))
def test_report_networks_have_the_listed_parameter_counts(arch):
    model = build_model(model_config(arch, latent_dim=2))
    assert (model.encoder.count_params(), model.decoder.count_params()) == REPORT_COUNTS[arch]


@pytest.mark.parametrize("name", ["net1", "net3", "net4", "resconv"])
@pytest.mark.parametrize("latent_dim", [2, 5])
def test_encoders_output_mean_and_log_variance(name, latent_dim):
    encoder = encoders.get(name)(latent_dim)
    assert tuple(encoder.input_shape) == (None, 28, 28, 1)
    assert tuple(encoder.output_shape) == (None, 2 * latent_dim)


@pytest.mark.parametrize("name", ["net1", "net2", "net3", "resconv"])
@pytest.mark.parametrize("latent_dim", [2, 5])
def test_decoders_output_image_logits(name, latent_dim):
    decoder = decoders.get(name)(latent_dim)
    assert tuple(decoder.input_shape) == (None, latent_dim)
    assert tuple(decoder.output_shape) == (None, 28, 28, 1)


def test_every_architecture_names_registered_networks():
    for name in architectures.names():
        pair = architectures.get(name)()
        assert pair.encoder in encoders and pair.decoder in decoders


def test_encoder_and_decoder_can_override_an_architecture():
    config = model_config("net1", decoder="net2", latent_dim=3)
    assert (config.encoder, config.decoder, config.latent_dim) == ("net1", "net2", 3)
    assert model_config(None, encoder="net4", decoder="net3").architecture is None


def test_missing_networks_are_a_config_error():
    with pytest.raises(ConfigError, match="encoder and a decoder"):
        model_config(None, encoder="net1")


def test_mismatched_plugin_networks_fail_in_one_line():
    """A third-party decoder with the wrong output shape is caught before training."""
    import keras

    def bad_decoder(latent_dim):
        return keras.Sequential([keras.Input((latent_dim,)), keras.layers.Dense(10)])

    with (
        decoders.temporary(bad_decoder, name="bad"),
        pytest.raises(ConfigError, match=r"expected \(2,\) -> \(28, 28, 1\)") as info,
    ):
        build_model(model_config(None, encoder="net1", decoder="bad"))
    assert "\n" not in str(info.value)
