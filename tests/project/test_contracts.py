"""Contracts every registered builder keeps, run over every entry of every registry.

In the style of timm's tests over all registered models: the tests are parametrized
at collection time from each registry's ``names()``, so a new registration (built-in
or plugin) is tested here without editing a test. Everything is tiny (a few real
images, one training step) so that the whole file stays fast.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from mnist_vae import registry
from mnist_vae.config import IMAGE_SHAPE, NUM_CLASSES
from mnist_vae.experiments.synthesis import SynthesisContext
from mnist_vae.models import GenerativeModel, build_model, model_config
from mnist_vae.models.latent_samplers import LatentSampler, sample_codes
from tests.helpers import numpy, real_batch

BATCH = 16
# A small and a large architecture, each at the latent size it is used with.
STRATEGY_ARCHITECTURES = [("net1", 2), ("resconv", 4)]
DENSITY_TERMS = {"log_likelihood", "log_prior", "log_posterior"}
ELBO_METRICS = {"loss", "reconstruction", "kl"}


def every(entries):
    """Every name registered in ``entries``, as parameters whose ids are the names."""
    return pytest.mark.parametrize("name", entries.names())


def finite(value) -> bool:
    return bool(np.all(np.isfinite(keras.ops.convert_to_numpy(value))))


@pytest.fixture(scope="module")
def real(mnist):
    """Sixteen real test images, float (16, 28, 28, 1) in [0, 1], and int32 labels."""
    return real_batch(mnist, BATCH)


# The contracts below, by registry: a registry added to ALL_REGISTRIES needs one too.
CONTRACTS = {
    "architectures": "test_architecture_names_registered_networks",
    "encoders": "test_encoder_maps_images_to_mean_and_log_variance",
    "decoders": "test_decoder_maps_codes_to_image_logits",
    "strategies": "test_strategy_trains_evaluates_and_round_trips",
    "likelihoods": "test_likelihood_is_a_finite_per_image_nll_lowest_at_the_images",
    "optimizers": "test_optimizer_builds_with_and_without_decay",
    "classifiers": "test_classifier_returns_hidden_layers_then_class_logits",
    "discriminators": "test_discriminator_returns_hidden_layers_then_one_logit",
    "synthesis_methods": "test_synthesis_method_returns_labelled_unit_images",
    "samplers": "test_sampler_fits_samples_deterministically_and_round_trips",
}


def test_every_registry_has_a_contract():
    assert set(CONTRACTS) == set(registry.ALL_REGISTRIES)
    for test in CONTRACTS.values():
        assert callable(globals()[test])


def test_every_registry_has_entries():
    for kind, entries in registry.ALL_REGISTRIES.items():
        assert entries.names(), f"no {kind} registered: its contract would test nothing"


# -- networks ----------------------------------------------------------------------------


@every(registry.architectures)
def test_architecture_names_registered_networks(name):
    pair = registry.architectures.get(name)()
    assert pair.encoder in registry.encoders, (name, pair.encoder)
    assert pair.decoder in registry.decoders, (name, pair.decoder)
    config = model_config(name)
    assert (config.architecture, config.encoder, config.decoder) == (
        name,
        pair.encoder,
        pair.decoder,
    )


@every(registry.encoders)
@pytest.mark.parametrize("condition_dim", [0, NUM_CLASSES], ids=["plain", "conditioned"])
def test_encoder_maps_images_to_mean_and_log_variance(name, condition_dim):
    input_shape = (*IMAGE_SHAPE[:2], IMAGE_SHAPE[2] + condition_dim)
    images = np.random.default_rng(0).random((3, *input_shape)).astype("float32")
    for latent_dim in (2, 5):
        encoder = registry.encoders.get(name)(latent_dim, input_shape=input_shape)
        assert isinstance(encoder, keras.Model)
        assert tuple(encoder.input_shape)[1:] == input_shape
        stats = encoder(images, training=False)
        assert tuple(stats.shape) == (3, 2 * latent_dim), (name, latent_dim)
        assert finite(stats)


@every(registry.decoders)
@pytest.mark.parametrize("condition_dim", [0, NUM_CLASSES], ids=["plain", "conditioned"])
def test_decoder_maps_codes_to_image_logits(name, condition_dim):
    latent_dim = 3
    decoder = registry.decoders.get(name)(latent_dim + condition_dim)
    assert isinstance(decoder, keras.Model)
    codes = np.random.default_rng(0).standard_normal((3, latent_dim + condition_dim))
    logits = decoder(codes.astype("float32"), training=False)
    assert tuple(logits.shape) == (3, *IMAGE_SHAPE)
    assert finite(logits)


def check_hidden_layers_then_logits(network, images, logits: int) -> None:
    """``network`` on ``images``: its hidden layers (a feature layer at least), then logits."""
    assert tuple(network.input_shape)[1:] == IMAGE_SHAPE
    outputs = network(images, training=False)
    assert isinstance(outputs, (list, tuple)) and len(outputs) >= 2
    assert tuple(outputs[-1].shape) == (len(images), logits)
    for output in outputs:
        assert output.shape[0] == len(images) and finite(output)


@every(registry.classifiers)
def test_classifier_returns_hidden_layers_then_class_logits(name, real):
    check_hidden_layers_then_logits(registry.classifiers.get(name)(), real[0][:3], NUM_CLASSES)


@every(registry.discriminators)
def test_discriminator_returns_hidden_layers_then_one_logit(name, real):
    check_hidden_layers_then_logits(registry.discriminators.get(name)(), real[0][:3], 1)


# -- likelihoods and optimizers -----------------------------------------------------------


@every(registry.likelihoods)
def test_likelihood_is_a_finite_per_image_nll_lowest_at_the_images(name, real):
    images = real[0][:4]
    p = np.clip(images, 1e-3, 1 - 1e-3)
    matching = np.log(p / (1 - p)).astype("float32")  # sigmoid(matching) is the image
    likelihood = registry.likelihoods.get(name)

    for variance in (1.0, 0.5):
        nll = {
            kind: numpy(likelihood(images, logits, variance=variance))
            for kind, logits in (
                ("matching", matching),
                ("flat", np.zeros_like(matching)),
                ("inverted", -matching),
            )
        }
        for values in nll.values():
            assert values.shape == (4,) and np.all(np.isfinite(values))
        assert np.all(nll["matching"] < nll["flat"]), nll
        assert np.all(nll["flat"] < nll["inverted"]), nll


@every(registry.optimizers)
@pytest.mark.parametrize("lr_decay", [None, 0.1])
def test_optimizer_builds_with_and_without_decay(name, lr_decay):
    optimizer = registry.optimizers.get(name)(0.01, lr_decay, 10)
    assert isinstance(optimizer, keras.optimizers.Optimizer)
    assert float(numpy(optimizer.learning_rate)) == pytest.approx(0.01)  # at step 0
    variable = keras.Variable(np.ones(3, "float32"))
    optimizer.apply([keras.ops.ones(3)], [variable])
    assert np.all(numpy(variable) < 1.0)  # one step downhill


# -- strategies ---------------------------------------------------------------------------


def strategy_cases():
    return [
        pytest.param(name, arch, latent, id=f"{name}-{arch}")
        for name in registry.strategies.names()
        for arch, latent in STRATEGY_ARCHITECTURES
    ]


def build(name: str, arch: str, latent: int):
    keras.utils.set_random_seed(0)
    return build_model(model_config(arch, strategy=name, latent_dim=latent), seed=0)


@pytest.mark.parametrize(("name", "arch", "latent"), strategy_cases())
def test_strategy_trains_evaluates_and_round_trips(name, arch, latent, real, tmp_path):
    images, labels = real
    model = build(name, arch, latent)
    model.compile(optimizer=keras.optimizers.SGD(1e-3))

    logs = model.train_on_batch(images, labels, return_dict=True)  # the compiled step
    assert set(logs) >= ELBO_METRICS, sorted(logs)
    assert all(finite(value) for value in logs.values()), logs

    # Tracing a graph for one batch is most of this test's time: net1 traces the test
    # step once per strategy, the other architecture and the reloaded model run the
    # same Python eagerly.
    model.run_eagerly = arch != "net1"
    results = model.evaluate(images, labels, batch_size=BATCH, verbose=0, return_dict=True)
    # The same test metrics for every strategy; a model that classifies adds its error.
    extra = set(results) - ELBO_METRICS
    assert set(results) >= ELBO_METRICS and extra <= {"classifier_error"}, sorted(results)
    assert not extra or callable(getattr(model, "classify", None)), sorted(results)
    assert all(np.isfinite(value) for value in results.values()), results

    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model)
    condition = labels if model.conditional else None
    np.testing.assert_array_equal(
        numpy(loaded.reconstruct(images, condition)), numpy(model.reconstruct(images, condition))
    )
    samples = numpy(model.sample(4, seed=3))
    assert samples.shape == (4, *IMAGE_SHAPE)
    assert samples.min() >= 0.0 and samples.max() <= 1.0
    np.testing.assert_array_equal(numpy(loaded.sample(4, seed=3)), samples)
    loaded.run_eagerly = True
    resumed = loaded.train_on_batch(images, labels, return_dict=True)  # reloads compiled
    assert all(finite(value) for value in resumed.values()), resumed


@pytest.mark.parametrize(("name", "arch", "latent"), strategy_cases())
def test_strategy_model_satisfies_the_generative_protocol(name, arch, latent, real):
    images, labels = real[0][:4], real[1][:4]
    model = build(name, arch, latent)
    assert isinstance(model, GenerativeModel)
    assert isinstance(model.conditional, bool)
    # A model declares its code's shape: --latent-dim values, or more where the code holds
    # more than one layer (vamp2's [z1, z2]). Every code it makes has that shape.
    assert model.latent_dim == latent
    shape = tuple(model.latent_shape)
    assert len(shape) == 1 and shape[0] >= latent, shape
    latent = shape[0]
    condition = labels if model.conditional else None

    assert tuple(model.encode(images, condition).shape) == (4, latent)
    parameters = model.posterior_parameters(images, condition)
    assert parameters and all(value.shape[0] == 4 for value in parameters.values())
    decoded = numpy(model.decode(model.encode(images, condition), condition))
    assert decoded.shape == (4, *IMAGE_SHAPE)
    assert decoded.min() >= 0.0 and decoded.max() <= 1.0

    prior = numpy(model.sample_prior(5, 7))
    assert prior.shape == (5, latent)
    np.testing.assert_array_equal(numpy(model.sample_prior(5, 7)), prior)
    assert not np.array_equal(numpy(model.sample_prior(5, 8)), prior)

    terms = model.log_density_terms(images, condition, 3, keras.random.SeedGenerator(1))
    assert set(terms) == DENSITY_TERMS
    for key, value in terms.items():
        assert tuple(value.shape) == (3, 4), key  # [samples, batch]
        assert finite(value), key


# -- synthesis methods --------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthesis_context(mnist):
    """Untrained tiny generators: the methods' plumbing, not their quality."""

    def make_vae():
        model = build_model(model_config("net1", strategy="vae", latent_dim=2), seed=0)
        return model, np.zeros((NUM_CLASSES, 2))

    def make_cvae():
        return build_model(model_config("net1", strategy="cvae", latent_dim=2), seed=0)

    return SynthesisContext(
        real_images=mnist.x_train[:20],
        real_labels=mnist.y_train[:20],
        make_vae=make_vae,
        make_cvae=make_cvae,
        make_filter=registry.classifiers.get("small"),
    )


@every(registry.synthesis_methods)
def test_synthesis_method_returns_labelled_unit_images(name, synthesis_context):
    count = 6
    images, labels = registry.synthesis_methods.get(name)(synthesis_context, count, 0)
    images, labels = np.asarray(images), np.asarray(labels)
    assert images.shape == (count, 28, 28)
    assert np.issubdtype(images.dtype, np.floating)
    assert np.all(np.isfinite(images)) and images.min() >= 0.0 and images.max() <= 1.0
    assert labels.shape == (count,)
    assert np.issubdtype(labels.dtype, np.integer)
    assert labels.min() >= 0 and labels.max() < NUM_CLASSES


# -- latent samplers ----------------------------------------------------------------------


@every(registry.samplers)
def test_sampler_fits_samples_deterministically_and_round_trips(name, tmp_path):
    import json

    import tensorflow as tf

    rng = np.random.default_rng(0)
    codes = np.concatenate([rng.normal(-2.0, 0.5, (40, 3)), rng.normal(2.0, 0.5, (40, 3))])
    kind = registry.samplers.get(name)
    sampler = kind().fit(codes.astype("float32"), seed=0)
    assert isinstance(sampler, LatentSampler)
    assert sampler.latent_dim == 3
    drawn = sample_codes(sampler, 7, 5)
    assert drawn.shape == (7, 3) and np.all(np.isfinite(drawn))
    np.testing.assert_array_equal(sample_codes(sampler, 7, 5), drawn)  # same seed, same codes
    assert not np.array_equal(sample_codes(sampler, 7, 6), drawn)
    # Traceable with a symbolic count and seed, as an export's signature traces it (which
    # sample_codes does too), and callable eagerly.
    spec = tf.TensorSpec([], tf.int32)
    traced = tf.function(sampler.sample, input_signature=[spec, spec])
    np.testing.assert_array_equal(numpy(traced(tf.constant(7), tf.constant(5))), drawn)
    np.testing.assert_allclose(numpy(sampler.sample(7, 5)), drawn, atol=1e-4)
    json.dumps(sampler.describe())
    sampler.save(tmp_path)
    loaded = kind.load(tmp_path)
    assert loaded.latent_dim == 3
    np.testing.assert_array_equal(sample_codes(loaded, 7, 5), drawn)
