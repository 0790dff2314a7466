"""``mnist-vae train``: the report's protocol by default."""

from __future__ import annotations

import time

import click

from mnist_vae.cli.errors import handle_errors
from mnist_vae.cli.options import (
    DEFAULTS,
    data_option,
    debug_option,
    given_strategy_options,
    overwrite_option,
    seed_option,
    strategy_options,
)
from mnist_vae.config import ModelConfig

MODEL_DEFAULTS = ModelConfig(encoder="-", decoder="-")


class TrainSize(click.ParamType):
    """A positive image count, or 'all' for the whole training set."""

    name = "N|all"

    def convert(self, value, param, ctx):
        if value is None or isinstance(value, int) or value == "all":
            return None if value == "all" else value
        try:
            number = int(value)
        except ValueError:
            self.fail(f"{value!r} is neither a whole number nor 'all'", param, ctx)
        if number < 1:
            self.fail(f"{number} is not a positive number of images", param, ctx)
        return number


@click.command(context_settings={"show_default": True})
@click.option(
    "--arch",
    default=None,
    help="Registered architecture (encoder + decoder pair); see 'mnist-vae zoo'. "
    "[default: net1, unless --encoder and --decoder are both given]",
)
@click.option("--encoder", default=None, help="Registered encoder, overriding the architecture's.")
@click.option("--decoder", default=None, help="Registered decoder, overriding the architecture's.")
@click.option("--strategy", default=MODEL_DEFAULTS.strategy, help="Registered training strategy.")
@click.option(
    "--latent-dim",
    type=click.IntRange(min=1, max=4096),
    default=MODEL_DEFAULTS.latent_dim,
    help="Size of z.",
)
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=DEFAULTS.epochs,
    help="Passes over the training subset.",
)
@click.option(
    "--batch-size", type=click.IntRange(min=1), default=DEFAULTS.batch_size, help="Images per step."
)
@click.option(
    "--lr",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULTS.learning_rate,
    help="Learning rate.",
)
@click.option(
    "--optimizer",
    default=DEFAULTS.optimizer,
    help="Registered optimizer: adam or sgdm (momentum 0.9, time-based decay).",
)
@click.option(
    "--lr-decay",
    type=click.FloatRange(min=0),
    default=None,
    help="Time-based decay per epoch: lr/(1 + decay*epoch). [default: adam 0, sgdm 0.05]",
)
@click.option(
    "--likelihood",
    default=MODEL_DEFAULTS.likelihood,
    help="p(x|z): bernoulli (BCE on logits) or gaussian (squared error).",
)
@click.option(
    "--gaussian-variance",
    type=click.FloatRange(min=0, min_open=True),
    default=MODEL_DEFAULTS.gaussian_variance,
    show_default="the batch's mean squared error (sigma-VAE)",
    help="Pixel variance of the gaussian likelihood.",
)
@click.option(
    "--beta",
    type=click.FloatRange(min=0),
    default=MODEL_DEFAULTS.beta,
    help="Weight on the KL term.",
)
@click.option(
    "--train-size",
    type=TrainSize(),
    default=DEFAULTS.train_size,
    help="Stratified, seeded subset of the 60,000 training images, or 'all'.",
)
@strategy_options
@seed_option("Random seed: subset choice, initial weights, shuffling and sampling noise.")
@data_option
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Run directory to create. [default: runs/ARCH-STRATEGY-zLATENT-sSEED-TIME]",
)
@overwrite_option
@click.option(
    "--binarize",
    type=click.Choice(["threshold", "dynamic"]),
    is_flag=False,
    flag_value="threshold",
    default=None,
    help="Binary pixels. threshold (also plain --binarize): MNIST thresholded at 0.5, as "
    "TensorFlow's CVAE tutorial does; dynamic: pixels drawn from the grey levels afresh every "
    "epoch and the test set drawn once with a fixed seed, the VAE literature's setting.",
)
@click.option(
    "--precision",
    type=click.Choice(["float32", "mixed_bfloat16", "auto"]),
    default="float32",
    show_default=True,
    help="Compute precision while training. mixed_bfloat16 trains faster on CPUs with "
    "bfloat16 units (AMX, AVX-512 BF16; 1.2-1.6x in docs/benchmarks.md) but ends 2-3 nats "
    "worse on the report's protocol; auto picks it on such CPUs. Saved models are float32.",
)
@click.option(
    "--distribute",
    type=click.Choice(["none", "mirrored", "multiworker"]),
    default="none",
    show_default=True,
    help="tf.distribute: mirrored = all local GPUs (or logical CPUs); multiworker = the "
    "machines in TF_CONFIG, where only the chief writes the run. See docs/scaling.md.",
)
@click.option(
    "--checkpoint-every-steps",
    "checkpoint_steps",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    show_default="0: only at epoch ends",
    help="Also checkpoint every N training steps within an epoch, so a kill loses at most N "
    "steps rather than up to an epoch; the resumed run skips the batches already trained and "
    "ends with the same weights. Each checkpoint writes weights and optimizer state (net1: "
    "15-45 ms, under 1% of its 600-step epoch at batch 100): a small N trades time and "
    "disk writes for less lost work. Training runs min(N, 50) steps per compiled call; a "
    "larger N is rounded down to a multiple of the steps per call.",
)
@click.option(
    "--resume",
    type=click.Path(file_okay=False),
    default=None,
    metavar="OUT",
    help="Continue the interrupted run OUT (killed, crashed or Ctrl-C'd) from its last "
    "checkpoint, with its own settings. Running the same command again does the same.",
)
@click.option(
    "--restart", is_flag=True, help="Discard an interrupted run of --out and start afresh."
)
@click.option("--quiet", is_flag=True, help="No progress bar or per-epoch lines.")
@debug_option
@handle_errors
@click.pass_context
def train(ctx, arch, encoder, decoder, strategy, latent_dim, epochs, batch_size, lr, optimizer,
          lr_decay, likelihood, gaussian_variance, beta, train_size, seed, data, out, overwrite,
          binarize, precision, distribute, checkpoint_steps, resume, restart, quiet,
          **settings) -> None:  # fmt: skip
    """Train a VAE and write a run directory (config, model, metrics, figures).

    The defaults are the report's protocol: net1, 2-D latent, 20,000 training
    images, 40 epochs, batch 400, Adam at a constant learning rate of 0.005.
    Options marked [STRATEGY] apply to that --strategy only (see docs/strategies.md).
    """
    from mnist_vae.config import RunConfig, TrainConfig
    from mnist_vae.models import model_config
    from mnist_vae.registry import optimizers

    if resume is not None:
        _train_resumed(ctx, resume, quiet)
        return

    if arch is None and not (encoder and decoder):
        arch = "net1"
    model = model_config(
        arch, encoder=encoder, decoder=decoder, strategy=strategy, latent_dim=latent_dim,
        likelihood=likelihood, beta=beta, gaussian_variance=gaussian_variance,
        options=given_strategy_options(settings),
    )  # fmt: skip
    optimizers.check(optimizer)
    run_config = RunConfig(
        model=model,
        train=TrainConfig(
            epochs=epochs, batch_size=batch_size, learning_rate=lr, optimizer=optimizer,
            lr_decay=lr_decay, train_size=train_size, seed=seed, data=data,
            binarize=binarize or "none",
            precision=precision, distribute=distribute, checkpoint_steps=checkpoint_steps,
        ),
    )  # fmt: skip
    if out is None:
        name = arch or f"{model.encoder}+{model.decoder}"
        out = f"runs/{name}-{model.strategy}-z{latent_dim}-s{seed}-{time.strftime('%Y%m%d-%H%M%S')}"

    from mnist_vae.io import check_output_dir

    check_output_dir(out, overwrite=overwrite)  # fail before loading data or training
    from mnist_vae.training import train as run_training

    def say(message: str) -> None:
        click.echo(message, err=True)

    start = time.perf_counter()
    run = run_training(run_config, out, overwrite=overwrite, progress=not quiet, report=say,
                       restart=restart)  # fmt: skip
    if run is None:  # a multi-worker task other than the chief: the chief writes the run
        seconds = time.perf_counter() - start
        click.echo(f"worker finished in {seconds:.0f} s; the chief writes {out}")
        return
    test = run.metrics["test"]
    if not quiet:
        say(f"finished in {time.perf_counter() - start:.0f} s")
    click.echo(
        f"{run.path}: test negative ELBO {test['negative_elbo']:.2f} nats "
        f"(reconstruction {test['reconstruction']:.2f}, KL {test['kl']:.2f})"
    )


# Options that only say how to run, not what to train: allowed beside --resume.
RESUME_COMPATIBLE = {"resume", "quiet", "debug"}


def _train_resumed(ctx: click.Context, out: str, quiet: bool) -> None:
    """``--resume OUT``: the interrupted run's own config, nothing else given."""
    from mnist_vae.errors import UsageError
    from mnist_vae.training import train as run_training
    from mnist_vae.training.trainer import interrupted_config

    given = [
        name for name, value in ctx.params.items()
        if name not in RESUME_COMPATIBLE
        and ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
    ]  # fmt: skip
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in sorted(given))
        raise UsageError(f"--resume continues with the run's own settings; drop {flags}")
    config = interrupted_config(out)

    def say(message: str) -> None:
        click.echo(message, err=True)

    run = run_training(config, out, progress=not quiet, report=say, resume=True)
    test = run.metrics["test"]
    click.echo(
        f"{run.path}: test negative ELBO {test['negative_elbo']:.2f} nats "
        f"(reconstruction {test['reconstruction']:.2f}, KL {test['kl']:.2f})"
    )
