"""The training strategies: their update rules, proven one step at a time."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from mnist_vae.errors import ConfigError
from mnist_vae.models import build_model, model_config
from mnist_vae.models.sampling import sample_digits

LEARNING_RATE = 0.01


@pytest.fixture
def batch(mnist):
    """Sixteen real test images in [0, 1] with their labels."""
    return (mnist.x_test[:16, ..., None] / 255.0).astype("float32"), mnist.y_test[:16].astype(
        "int32"
    )


def sgd_model(strategy: str, **options):
    keras.utils.set_random_seed(0)
    model = build_model(model_config("net1", strategy=strategy, options=options), seed=5)
    model.compile(optimizer=keras.optimizers.SGD(LEARNING_RATE))
    return model


def snapshot(variables) -> list[np.ndarray]:
    return [v.numpy().copy() for v in variables]


def seed_states(model) -> list[np.ndarray]:
    """Everything a training-mode pass changes besides weights: noise seeds and the
    critic's spectral-normalisation vectors, so a pass can be replayed exactly."""
    return [v.numpy().copy() for v in _pass_state(model)]


def restore_seed_states(model, states) -> None:
    for variable, state in zip(_pass_state(model), states, strict=True):
        variable.assign(state)


def _pass_state(model):
    variables = [model.sampler.seed_generator.state]
    if hasattr(model, "prior_seed"):
        variables.append(model.prior_seed.state)
    if hasattr(model, "discriminator"):
        variables.extend(model.discriminator.non_trainable_variables)
    return variables


def expected_after_sgd(variables, loss_fn):
    """Weights after one plain SGD step on ``loss_fn()``; gradients taken here, by hand."""
    with tf.GradientTape() as tape:
        loss = loss_fn()
    gradients = tape.gradient(loss, variables)
    assert any(np.abs(g.numpy()).max() > 0 for g in gradients)
    return [
        v.numpy() - LEARNING_RATE * g.numpy() for v, g in zip(variables, gradients, strict=True)
    ]


def assert_weights(variables, expected) -> None:
    for variable, want in zip(variables, expected, strict=True):
        np.testing.assert_allclose(variable.numpy(), want, rtol=2e-4, atol=2e-6)


def assert_trains_like_sgd(model, batch, states, *groups) -> None:
    """One ``train_on_batch`` from the seed ``states`` moves each ``(variables, loss_fn)``
    group as one plain SGD step on ``loss_fn()`` would."""
    wants = [expected_after_sgd(variables, loss_fn) for variables, loss_fn in groups]
    restore_seed_states(model, states)
    model.train_on_batch(*batch)
    for (variables, _), want in zip(groups, wants, strict=True):
        assert_weights(variables, want)


# -- VAE-GAN --------------------------------------------------------------------------


def test_vaegan_step_follows_larsen_et_al_update_rules(batch):
    images = batch[0]
    model = sgd_model("vaegan", balance=False, gamma=0.5)
    encoder = model.encoder.trainable_variables
    decoder = model.decoder.trainable_variables
    critic = model.discriminator.trainable_variables
    states = seed_states(model)

    def terms():
        restore_seed_states(model, states)
        return model.losses_for(images, training=True)

    def encoder_loss():  # KL + L_llike, written out: no GAN term
        t = terms()
        return tf.reduce_mean(t["kl"]) + tf.reduce_mean(t["llike"])

    def decoder_loss():  # gamma * L_llike - L_GAN (non-saturating)
        t = terms()
        return 0.5 * tf.reduce_mean(t["llike"]) + tf.reduce_mean(t["fooled"])

    def critic_loss():  # L_GAN: real as real, reconstructions and prior samples as fake
        t = terms()
        return tf.reduce_mean(t["bce_real"]) + 2 * tf.reduce_mean(t["bce_fake"])

    # The GAN loss does reach the encoder through the decoder, so leaving it out is a real choice.
    with tf.GradientTape() as tape:
        gan = tf.reduce_mean(terms()["fooled"])
    assert max(np.abs(g.numpy()).max() for g in tape.gradient(gan, encoder)) > 0

    assert_trains_like_sgd(
        model,
        batch,
        states,
        (encoder, encoder_loss),
        (decoder, decoder_loss),
        (critic, critic_loss),
    )


@pytest.mark.parametrize(
    ("equilibrium", "critic_moves", "decoder_moves"),
    [(100.0, False, True), (0.0, True, False)],
)
def test_vaegan_balance_gates_one_player(batch, equilibrium, critic_moves, decoder_moves):
    """Equilibrium far above the losses stops the critic; at 0, below any BCE (the least
    --equilibrium allows), it stops the decoder."""
    images, labels = batch
    model = sgd_model("vaegan", balance=True, equilibrium=equilibrium, margin=0.0)
    before_critic = snapshot(model.discriminator.trainable_variables)
    before_decoder = snapshot(model.decoder.trainable_variables)
    before_encoder = snapshot(model.encoder.trainable_variables)
    logs = model.train_on_batch(images, labels, return_dict=True)

    def moved(variables, before):
        return any(not np.array_equal(v.numpy(), b) for v, b in zip(variables, before, strict=True))

    assert moved(model.discriminator.trainable_variables, before_critic) is critic_moves
    assert moved(model.decoder.trainable_variables, before_decoder) is decoder_moves
    assert moved(model.encoder.trainable_variables, before_encoder)  # the encoder always learns
    assert int(model.discriminator_optimizer.iterations) == int(critic_moves)
    assert logs["discriminator_updates"] == float(critic_moves)
    assert logs["decoder_updates"] == float(decoder_moves)


def test_vaegan_pixel_warmup_trains_a_plain_vae_first(batch):
    images = batch[0]
    model = sgd_model("vaegan", balance=False, pixel_warmup=2)
    model.pixel_phase.assign(1.0)
    encoder = model.encoder.trainable_variables
    states = seed_states(model)

    def vae_loss():
        restore_seed_states(model, states)
        t = model.losses_for(images, training=True)
        return tf.reduce_mean(t["kl"]) + tf.reduce_mean(t["pixel"])

    assert_trains_like_sgd(model, batch, states, (encoder, vae_loss))
    assert [type(c).__name__ for c in model.training_callbacks()] == ["PixelWarmup"]


def test_vaegan_metrics_are_finite_and_named(batch):
    images, labels = batch
    logs = sgd_model("vaegan").train_on_batch(images, labels, return_dict=True)
    for name in (
        "loss",
        "kl",
        "feature_reconstruction",
        "decoder_gan",
        "discriminator",
        "real_accuracy",
        "fake_accuracy",
    ):
        assert np.isfinite(logs[name]), name


def test_feature_layer_beyond_the_discriminator_is_rejected():
    with pytest.raises(ConfigError, match="past discriminator 'dcgan'"):
        build_model(model_config("net1", strategy="vaegan", options={"feature_layer": 4}))


# -- the classifier task-driven loss ----------------------------------------------------


def test_task_ce_mode_adds_weighted_cross_entropy_and_trains_the_classifier(batch):
    images, labels = batch
    model = sgd_model("classifier", task_mode="ce", task_weight=3.0, recon_threshold=1.0)
    vae = [*model.encoder.trainable_variables, *model.decoder.trainable_variables]
    classifier = model.classifier.trainable_variables
    states = seed_states(model)

    def vae_loss():
        restore_seed_states(model, states)
        t = model.losses_for(images, labels, training=True)
        return (
            tf.reduce_mean(t["pixel"]) + tf.reduce_mean(t["kl"]) + 3.0 * tf.reduce_mean(t["task"])
        )

    def classifier_loss():  # threshold 1.0 accepts every reconstruction
        restore_seed_states(model, states)
        t = model.losses_for(images, labels, training=True)
        assert float(tf.reduce_mean(t["accepted"])) == 1.0
        return t["classifier_loss"]

    assert_trains_like_sgd(model, batch, states, (vae, vae_loss), (classifier, classifier_loss))


def test_task_features_mode_splits_encoder_and_decoder_losses(batch):
    images, labels = batch
    model = sgd_model("classifier", task_mode="features", task_weight=2.0)
    encoder, decoder = model.encoder.trainable_variables, model.decoder.trainable_variables
    states = seed_states(model)

    def encoder_loss():
        restore_seed_states(model, states)
        t = model.losses_for(images, labels, training=True)
        return tf.reduce_mean(t["kl"]) + tf.reduce_mean(t["features"])

    def decoder_loss():
        restore_seed_states(model, states)
        t = model.losses_for(images, labels, training=True)
        return tf.reduce_mean(t["features"]) + 2.0 * tf.reduce_mean(t["task"])

    assert_trains_like_sgd(model, batch, states, (encoder, encoder_loss), (decoder, decoder_loss))


def test_reconstruction_threshold_decides_what_the_classifier_learns_from(batch):
    images, labels = batch
    model = sgd_model("classifier", recon_threshold=0.0)
    terms = model.losses_for(images, labels, training=False)
    assert float(tf.reduce_mean(terms["accepted"])) == 0.0
    real_only = tf.reduce_mean(
        keras.ops.sparse_categorical_crossentropy(
            labels, model.classifier(images)[-1], from_logits=True
        )
    )
    np.testing.assert_allclose(float(terms["classifier_loss"]), float(real_only), rtol=1e-5)


def test_pretrained_classifier_is_loaded_and_frozen(tmp_path, batch):
    images, labels = batch
    source = build_model(model_config("net1", strategy="classifier"), seed=1).classifier
    source.save(tmp_path / "classifier.keras")
    model = sgd_model("classifier", classifier_weights=str(tmp_path / "classifier.keras"))
    for got, want in zip(model.classifier.get_weights(), source.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    model.train_on_batch(images, labels)
    for got, want in zip(model.classifier.get_weights(), source.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    assert model.classifier_optimizer is None


def test_classifier_weights_that_do_not_fit_are_a_usage_error(tmp_path):
    from mnist_vae.errors import UsageError

    with pytest.raises(UsageError, match="no such file"):
        build_model(
            model_config(
                "net1", strategy="classifier", options={"classifier_weights": "nope.keras"}
            )
        )
    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    other.save(tmp_path / "other.keras")
    with pytest.raises(UsageError, match="does not fit classifier"):
        build_model(
            model_config(
                "net1",
                strategy="classifier",
                options={"classifier_weights": str(tmp_path / "other.keras")},
            )
        )


# -- the conditional VAE ------------------------------------------------------------


def test_cvae_networks_see_the_label(batch):
    images, labels = batch
    model = build_model(model_config("net3", strategy="cvae", latent_dim=3), seed=0)
    assert tuple(model.encoder.input_shape) == (None, 28, 28, 11)
    assert tuple(model.decoder.input_shape) == (None, 13)
    z = np.zeros((2, 3), "float32")
    assert not np.allclose(model.decode(z, np.array([3, 3])), model.decode(z, np.array([5, 5])))
    mean_a = model.encode(images, labels)
    mean_b = model.encode(images, (labels + 1) % 10)
    assert not np.allclose(mean_a, mean_b)
    with pytest.raises(ValueError, match="needs the digit labels"):
        model.encode(images)


def test_cvae_samples_a_digit_from_the_prior_without_class_means():
    model = build_model(model_config("net1", strategy="cvae"), seed=0)
    sevens = sample_digits(model, 5, 1, digit=7)
    assert sevens.shape == (5, 28, 28)
    np.testing.assert_array_equal(sevens, sample_digits(model, 5, 1, digit=7))
    assert not np.array_equal(sevens, sample_digits(model, 5, 1, digit=2))


def test_cvae_trains_with_finite_losses(batch):
    images, labels = batch
    logs = sgd_model("cvae").train_on_batch(images, labels, return_dict=True)
    assert all(np.isfinite(logs[name]) for name in ("loss", "reconstruction", "kl"))


# -- every strategy --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "extra"),
    [("vae", None), ("vaegan", "discriminator"), ("classifier", "classifier"), ("cvae", None)],
)
def test_every_strategy_round_trips_through_keras_format(tmp_path, batch, strategy, extra):
    images, labels = batch
    model = sgd_model(strategy)
    model.fit(images, labels, batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(
        loaded.reconstruct(images, labels), model.reconstruct(images, labels)
    )
    np.testing.assert_array_equal(loaded.sample(4, seed=3), model.sample(4, seed=3))
    assert sorted(loaded.extra_networks()) == ([extra] if extra else [])
    for name, network in loaded.extra_networks().items():
        for got, want in zip(
            network.get_weights(), model.extra_networks()[name].get_weights(), strict=True
        ):
            np.testing.assert_array_equal(got, want)
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations)
    for name in (
        "optimizer",
        "decoder_optimizer",
        "discriminator_optimizer",
        "classifier_optimizer",
    ):
        if getattr(model, name, None) is not None:
            for got, want in zip(
                getattr(loaded, name).variables, getattr(model, name).variables, strict=True
            ):
                np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize(
    ("strategy", "options", "message"),
    [
        ("vae", {"gamma": 1.0}, "option gamma does not apply to strategy 'vae'"),
        ("cvae", {"gamma": 1.0}, "strategy 'cvae' takes no options, got gamma"),
        ("vaegan", {"task_weight": 1.0}, "option task_weight does not apply to strategy 'vaegan'"),
        ("vaegan", {"discriminator": "patchgan"}, "unknown discriminator 'patchgan'"),
        ("classifier", {"task_mode": "pixels"}, "--task-mode must be one of ce, features"),
        ("classifier", {"classifier": "lenett"}, "did you mean 'lenet'"),
    ],
)
def test_strategy_options_are_checked_before_any_work(strategy, options, message):
    from mnist_vae.errors import UsageError

    with pytest.raises(UsageError) as info:
        model_config("net1", strategy=strategy, options=options)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_builders_check_options_even_without_model_config():
    from mnist_vae.config import ModelConfig

    config = ModelConfig(encoder="net1", decoder="net1", strategy="vaegan", options={"bogus": 1})
    with pytest.raises(ConfigError, match="option bogus does not apply"):
        build_model(config)
