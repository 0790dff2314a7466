"""``mnist-vae train``: the report's protocol by default."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import click

from mnist_vae.cli.errors import handle_errors
from mnist_vae.cli.help_sections import SectionedCommand
from mnist_vae.cli.options import (
    DEFAULTS,
    RegisteredOption,
    data_option,
    debug_option,
    given_strategy_options,
    overwrite_option,
    quiet_option,
    seed_option,
    strategy_flag_names,
    strategy_options,
)
from mnist_vae.config import LR_SCHEDULES, OUTPUT_BIASES, ModelConfig
from mnist_vae.errors import ConfigError

if TYPE_CHECKING:
    from mnist_vae.config import RunConfig

MODEL_DEFAULTS = ModelConfig(encoder="-", decoder="-")
TENSORBOARD_IMAGES_EVERY = 5  # mnist_vae.training.tensorboard.IMAGES_EVERY (a test checks)
STEPS_PER_CALL = 200  # mnist_vae.training.fitter.STEPS_PER_EXECUTION (a test checks)

# Each option that sets a field of the RunConfig, and that field as RunConfig.to_dict()
# nests it (and a --config file sets it): the one place flags meet fields. Strategy
# options (model.options) come from their own flags and --option.
CONFIG_FIELDS: dict[str, tuple[str, str]] = {
    "arch": ("model", "architecture"),
    "encoder": ("model", "encoder"),
    "decoder": ("model", "decoder"),
    "strategy": ("model", "strategy"),
    "latent_dim": ("model", "latent_dim"),
    "likelihood": ("model", "likelihood"),
    "gaussian_variance": ("model", "gaussian_variance"),
    "beta": ("model", "beta"),
    "epochs": ("train", "epochs"),
    "batch_size": ("train", "batch_size"),
    "lr": ("train", "learning_rate"),
    "optimizer": ("train", "optimizer"),
    "lr_decay": ("train", "lr_decay"),
    "lr_schedule": ("train", "lr_schedule"),
    "adam_epsilon": ("train", "adam_epsilon"),
    "adam_beta1": ("train", "adam_beta1"),
    "output_bias": ("train", "output_bias"),
    "train_size": ("train", "train_size"),
    "labels": ("train", "labels"),
    "seed": ("train", "seed"),
    "data": ("train", "data"),
    "binarize": ("train", "binarize"),
    "precision": ("train", "precision"),
    "distribute": ("train", "distribute"),
    "cpu_devices": ("train", "cpu_devices"),
    "checkpoint_steps": ("train", "checkpoint_steps"),
    "figures": ("train", "figures"),
}

STRATEGY_SECTION = "Strategy options ([STRATEGY]: that --strategy only)"


def help_sections() -> dict[str, list[str]]:
    """``train --help``'s sections: every option is in one (a test checks)."""
    return {
        "Config file": ["config_file"],
        "Model": ["arch", "encoder", "decoder", "strategy", "latent_dim", "likelihood",
                  "gaussian_variance", "beta"],
        "Training": ["epochs", "batch_size", "lr", "optimizer", "lr_decay", "lr_schedule",
                     "adam_epsilon", "adam_beta1", "output_bias", "seed", "precision", "distribute",
                     "cpu_devices"],
        "Data": ["train_size", "labels", "data", "binarize"],
        "Output and resuming": ["out", "overwrite", "figures", "checkpoint_steps", "resume",
                                "restart"],
        "Monitoring": ["quiet", "tensorboard", "tensorboard_images_every"],
        STRATEGY_SECTION: [*strategy_flag_names(), "option"],
        "Other": ["debug", "help"],
    }  # fmt: skip


class TrainSize(click.ParamType):
    """A positive image count, or 'all' for the whole training set."""

    name = "N|all"

    def convert(self, value, param, ctx):
        if value is None or value == "all":
            return None
        try:
            number = int(value)
        except ValueError:
            self.fail(f"{value!r} is neither a whole number nor 'all'", param, ctx)
        if number < 1:
            self.fail(f"{number} is not a positive number of images", param, ctx)
        return number


@click.command(
    cls=SectionedCommand, help_sections=help_sections, context_settings={"show_default": True}
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    metavar="FILE",
    help="Settings from a TOML or JSON file laid out as a run's config.json ([model] and "
    "[train] tables; a run's own config.json repeats that run). Options given on the "
    "command line override it; defaults do not. See docs/usage.md.",
)
@click.option(
    "--arch",
    cls=RegisteredOption,
    registry="architectures",
    default=None,
    help="Registered architecture (encoder + decoder pair); see 'mnist-vae zoo'. "
    "[default: net1, unless --encoder and --decoder are both given]",
)
@click.option("--encoder", cls=RegisteredOption, registry="encoders", default=None,
              help="Registered encoder, overriding the architecture's.")  # fmt: skip
@click.option("--decoder", cls=RegisteredOption, registry="decoders", default=None,
              help="Registered decoder, overriding the architecture's.")  # fmt: skip
@click.option("--strategy", cls=RegisteredOption, registry="strategies",
              default=MODEL_DEFAULTS.strategy, help="Registered training strategy.")  # fmt: skip
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
    cls=RegisteredOption,
    registry="optimizers",
    default=DEFAULTS.optimizer,
    help="Registered optimizer; sgdm is momentum 0.9 with time-based decay.",
)
@click.option(
    "--lr-decay",
    type=click.FloatRange(min=0),
    default=None,
    help="Decay rate per epoch: lr/(1 + decay*epoch), or with --lr-schedule exponential "
    "lr*exp(-decay*epoch). [default: adam 0, sgdm 0.05]",
)
@click.option(
    "--lr-schedule",
    type=click.Choice(LR_SCHEDULES),
    default=None,
    help="Learning-rate schedule replacing --lr-decay's: exponential (needs --lr-decay), "
    "cosine (to 0 at the last epoch), burda (Burda et al. 2016: stage i = 0, 1, ... lasts "
    "3^i epochs at lr*10^(-i/7); 3,280 epochs are stages 0-7).",
)
@click.option(
    "--adam-epsilon",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Adam's epsilon (the IWAE authors' code: 1e-4). [default: Keras's 1e-7]",
)
@click.option(
    "--adam-beta1",
    type=click.FloatRange(min=0, max=1, max_open=True),
    default=None,
    help="Adam's beta_1, the first moment's decay (the IWAE authors' code: 0.99). "
    "[default: Keras's 0.9]",
)
@click.option(
    "--output-bias",
    type=click.Choice(OUTPUT_BIASES),
    default=DEFAULTS.output_bias,
    help="The decoder's per-pixel output bias at the start: zeros, or mean (the logits of "
    "the training images' mean pixels, as Burda et al. 2016; dense decoders such as mlp).",
)
@click.option(
    "--likelihood",
    cls=RegisteredOption,
    registry="likelihoods",
    default=MODEL_DEFAULTS.likelihood,
    help="p(x|z): bernoulli is BCE on logits, gaussian squared error.",
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
@click.option(
    "--labels",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Labelled images the run may use, balanced over classes and seeded; the rest are "
    "used without labels by semi-supervised strategies (m2); supervised conditional "
    "strategies (cvae) train on these N images only.",
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
    "--figures/--no-figures",
    default=DEFAULTS.figures,
    help="Draw the run's figures (figures/*.png: codes, reconstructions, samples, losses) "
    "when it finishes. Without them the run is complete all the same; for quick runs and "
    "sweeps, where they take a good part of the time.",
)
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
    "--cpu-devices",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="With --distribute mirrored: split the CPU into N logical devices, one replica "
    "each, to try multi-device training without GPUs. Not faster: the replicas share the "
    "CPU's cores.",
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
    f"disk writes for less lost work. Training runs min(N, {STEPS_PER_CALL}) steps per "
    f"compiled call (one, in a training of at most {STEPS_PER_CALL} steps in all); a larger N is "
    "rounded down to a multiple of the steps per call.",
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
@quiet_option(help="No progress: no bars, no progress lines, no per-epoch lines.")
@click.option(
    "--tensorboard",
    type=click.Path(file_okay=False),
    default=None,
    metavar="DIR",
    help="Also log the training for TensorBoard into DIR: every loss per epoch (training "
    "and test), the learning rate, and test reconstructions and prior samples as images. "
    "View with 'tensorboard --logdir DIR'. Needs pip install 'mnist-vae[tensorboard]'.",
)
@click.option(
    "--tensorboard-images-every",
    type=click.IntRange(min=1),
    default=TENSORBOARD_IMAGES_EVERY,
    metavar="N",
    help="With --tensorboard: log the images every N epochs, and after the last.",
)
@debug_option
@handle_errors
@click.pass_context
def train(ctx, config_file, out, overwrite, resume, restart, quiet, tensorboard,
          tensorboard_images_every, **settings) -> None:  # fmt: skip
    """Train a VAE and write a run directory (config, model, metrics, figures).

    The defaults are the report's protocol: net1, 2-D latent, 20,000 training
    images, 40 epochs, batch 400, Adam at a constant learning rate of 0.005.
    Options marked [STRATEGY] apply to that --strategy only (see docs/strategies.md).
    """
    log = _tensorboard_log(ctx, tensorboard, tensorboard_images_every)
    if resume is not None:
        _train_resumed(ctx, resume, quiet, log)
        return

    run_config = build_run_config(*resolve_settings(ctx, config_file))
    model, seed = run_config.model, run_config.train.seed
    if out is None:
        name = model.architecture or f"{model.encoder}+{model.decoder}"
        out = f"runs/{name}-{model.strategy}-z{model.latent_dim}-s{seed}-" \
            f"{time.strftime('%Y%m%d-%H%M%S')}"  # fmt: skip

    from mnist_vae.io import check_output_dir
    from mnist_vae.runs.interrupted import TRAINING, leftover_intent

    if log is not None:
        log.check_outside(out)
    if leftover_intent(out, TRAINING) is None:  # else a finished run to tidy, if the same
        check_output_dir(out, overwrite=overwrite)  # fail before loading data or training
    from mnist_vae.training import train as run_training

    def say(message: str) -> None:
        click.echo(message, err=True)

    start = time.perf_counter()
    run = run_training(run_config, out, overwrite=overwrite, progress=not quiet, report=say,
                       restart=restart, tensorboard=log)  # fmt: skip
    if run is None:  # a multi-worker task other than the chief: the chief writes the run
        seconds = time.perf_counter() - start
        click.echo(f"worker finished in {seconds:.0f} s; the chief writes {out}")
        return
    if not quiet:
        say(f"finished in {time.perf_counter() - start:.0f} s")
    click.echo(_result_line(run))


def _given(ctx: click.Context, name: str) -> bool:
    """Whether the option ``name`` was given (command line or environment), not defaulted."""
    source = ctx.get_parameter_source(name)
    return source is not None and source not in (
        click.core.ParameterSource.DEFAULT, click.core.ParameterSource.DEFAULT_MAP
    )  # fmt: skip


def _flag(ctx: click.Context, name: str) -> str:
    """The option ``name`` as the user types it (``checkpoint_steps``: --checkpoint-every-steps)."""
    param = next((p for p in ctx.command.params if p.name == name), None)
    return max(param.opts, key=len) if param is not None else "--" + name.replace("_", "-")


def resolve_settings(
    ctx: click.Context, config_file: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The values of ``CONFIG_FIELDS``' options and the strategy options, as trained.

    An option given on the command line wins; else the ``--config`` file's value; else
    the option's default. A file's encoder and decoder belong to its architecture, and
    its strategy options to its strategy: an --arch (or a different --strategy) on the
    command line sets those afresh.
    """
    values = {name: ctx.params[name] for name in CONFIG_FIELDS}
    options = given_strategy_options(ctx.params)
    if config_file is None:
        return values, options
    from mnist_vae.config import read_config_file

    settings = read_config_file(config_file)
    given = {name for name in CONFIG_FIELDS if _given(ctx, name)}
    if "arch" in given:
        given |= {"encoder", "decoder"}
    for name, (section, field) in CONFIG_FIELDS.items():
        if field in settings[section]:
            value = _file_value(ctx, name, settings[section][field], config_file)
            if name not in given:
                values[name] = value
    file_strategy = settings["model"].get("strategy", MODEL_DEFAULTS.strategy)
    file_options = settings["model"].get("options", {})
    if file_options:
        from mnist_vae.models import check_option_values

        try:
            check_option_values(file_strategy, file_options)
        except ConfigError as error:
            raise ConfigError(f"model.options in {config_file}: {error}") from None
    if values["strategy"] == file_strategy:
        options = {**file_options, **options}
    return values, options


# A config file's values that mean a flag left out: a run's config.json records
# --binarize's absence as "none" (runs of 0.3 as true/false).
FILE_ABSENT_VALUES: dict[str, dict[Any, Any]] = {
    "binarize": {"none": None, False: None, True: "threshold"},
}


def _file_value(ctx: click.Context, name: str, value: Any, path: str) -> Any:
    """A ``--config`` file's value for the option ``name``, checked as the flag's own value
    is: the flag's click type (type, range, choices, existing path) converts it, so a bad
    value exits 2 before any work, naming the key and the file."""
    section, field = CONFIG_FIELDS[name]
    key, flag = f"{section}.{field}", _flag(ctx, name)
    param = next(p for p in ctx.command.params if p.name == name)
    absent = FILE_ABSENT_VALUES.get(name, {})
    if isinstance(value, (str, bool)) and value in absent:
        return absent[value]

    def refuse(problem: str) -> ConfigError:
        return ConfigError(f"{key} in {path}: {problem}; correct the file, or override it "
                           f"with {flag}")  # fmt: skip

    if value is None:
        if param.default is None:
            return None  # null: the flag left out (a run's config.json records those)
        if isinstance(param.type, TrainSize):
            return None  # null: --train-size all, as a run's config.json records it
        raise refuse(f"needs a value, as {flag} does")
    wanted = _file_kinds(param)
    if not isinstance(value, wanted) or (bool not in wanted and isinstance(value, bool)):
        kind = {bool: "true or false", int: "a whole number", float: "a number",
                str: "text"}[wanted[-1]]  # fmt: skip
        raise refuse(f"must be {kind} (as {flag} takes), got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise refuse(f"must be a finite number, got {value!r}")
    try:
        return param.type_cast_value(ctx, value)
    except click.BadParameter as error:
        raise refuse(error.message.rstrip(".")) from None


def _file_kinds(param: click.Parameter) -> tuple[type, ...]:
    """The JSON/TOML types a file may give for the option ``param``, from its click type."""
    kind = param.type
    if isinstance(kind, click.types.BoolParamType):
        return (bool,)
    if isinstance(kind, (click.types.IntParamType, TrainSize)):
        return (int,)
    if isinstance(kind, click.types.FloatParamType):
        return (int, float)
    return (str,)


def build_run_config(values: dict[str, Any], options: dict[str, Any]) -> RunConfig:
    """The RunConfig of the option values ``values`` (keys: ``CONFIG_FIELDS``), checked:
    also that no strategy option given would do nothing beside the other settings."""
    import dataclasses

    from mnist_vae.config import RunConfig, TrainConfig
    from mnist_vae.models import model_config, strategy_options
    from mnist_vae.registry import optimizers

    fields = {section: {} for section in ("model", "train")}
    for name, (section, field) in CONFIG_FIELDS.items():
        fields[section][field] = values[name]
    model = fields["model"]
    arch, encoder, decoder = (model.pop(key) for key in ("architecture", "encoder", "decoder"))
    if arch is None and not (encoder and decoder):
        arch = "net1"
    model_settings = model_config(arch, encoder=encoder, decoder=decoder, options=options,
                                  **model)  # fmt: skip
    train = fields["train"]
    optimizers.check(train["optimizer"])
    train["binarize"] = train["binarize"] or "none"  # the flag's absence
    run_config = RunConfig(model=model_settings, train=TrainConfig(**train))
    chosen = strategy_options(model_settings)
    if chosen is not None:
        settings = {**dataclasses.asdict(model_settings), **dataclasses.asdict(run_config.train)}
        chosen.check_given(model_settings.options, settings)
    return run_config


def _tensorboard_log(ctx: click.Context, log_dir: str | None, images_every: int):
    """``--tensorboard DIR``'s log, checked before any work (the package must be there)."""
    if log_dir is None:
        if _given(ctx, "tensorboard_images_every"):
            from mnist_vae.errors import UsageError

            raise UsageError("--tensorboard-images-every needs --tensorboard DIR")
        return None
    from mnist_vae.training.tensorboard import TensorBoardLog

    return TensorBoardLog(log_dir, images_every=images_every)


# Options that only say how to run, not what to train: allowed beside --resume.
RESUME_COMPATIBLE = {"resume", "quiet", "debug", "tensorboard", "tensorboard_images_every"}


def _train_resumed(ctx: click.Context, out: str, quiet: bool, log=None) -> None:
    """``--resume OUT``: the interrupted run's own config, nothing else given."""
    from mnist_vae.errors import UsageError
    from mnist_vae.training import train as run_training
    from mnist_vae.training.trainer import interrupted_config

    given = [name for name in ctx.params if name not in RESUME_COMPATIBLE and _given(ctx, name)]
    if given:
        flags = ", ".join(sorted(_flag(ctx, name) for name in given))
        raise UsageError(f"--resume continues with the run's own settings; drop {flags}")
    if log is not None:
        log.check_outside(out)
    config = interrupted_config(out)

    def say(message: str) -> None:
        click.echo(message, err=True)

    run = run_training(config, out, progress=not quiet, report=say, resume=True, tensorboard=log)
    click.echo(_result_line(run))


def _result_line(run) -> str:
    """The line a finished training prints: the test negative ELBO (and classifier error)."""
    test = run.metrics["test"]
    line = (f"{run.path}: test negative ELBO {test['negative_elbo']:.2f} nats "
            f"(reconstruction {test['reconstruction']:.2f}, KL {test['kl']:.2f})")  # fmt: skip
    if "classifier_error" in test:
        line += f"; classifier error {100 * test['classifier_error']:.2f}%"
    return line
