"""Train a model from a RunConfig and write a complete run directory.

The run is trained in a fixed hidden sibling folder (``.NAME.training``), locked
while in use, and renamed into place only when everything (model, metrics, figures)
is written. The folder keeps a checkpoint every epoch (and every ``checkpoint_steps``
steps within one, if set): a run killed at any point resumes from it (``mnist-vae
train --resume OUT``, or the same command again) and ends with the weights an
uninterrupted run would have. That holds for a kill (or a full disk) while the run
is being finished too: finishing starts afresh from the last checkpoint each time
(``_clear_unfinished``), and a run stopped after the rename but before its scratch
was removed is tidied by the rerun (``finish_leftover``).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from mnist_vae.backend import prepare_backend, quiet_tensorflow_startup
from mnist_vae.config import RunConfig
from mnist_vae.data import (
    MnistData,
    binarize_test_set,
    binarized,
    load_mnist,
    select_labelled_set,
    select_training_set,
    to_float_images,
)
from mnist_vae.errors import RunError, UsageError
from mnist_vae.io import check_output_dir, locked_stage, training_stage_path, write_json_atomic
from mnist_vae.io.folders import remove_scratch
from mnist_vae.runs import Run, load_run, write_run_files
from mnist_vae.runs.interrupted import (
    TRAINING,
    damaged_intent,
    damaged_intent_error,
    leftover_intent,
    read_intent,
)
from mnist_vae.runs.interrupted import check_interrupted as check_interrupted_work
from mnist_vae.training.fitter import Fitter
from mnist_vae.training.threads import choose_training_threads

if TYPE_CHECKING:
    from mnist_vae.training.tensorboard import TensorBoardLog

Reporter = Callable[[str], None]


def train(
    config: RunConfig,
    out: str | Path,
    *,
    data: MnistData | None = None,
    overwrite: bool = False,
    progress: bool | str = True,
    report: Reporter | None = None,
    command: str | None = None,
    resume: bool = False,
    restart: bool = False,
    tensorboard: TensorBoardLog | None = None,
) -> Run:
    """Train ``config`` and write the run to ``out``; returns the loaded ``Run``.

    An interrupted run of ``out`` with the same config is resumed from its last
    checkpoint; with another config it is a usage error unless ``resume`` (continue
    it anyway: ``config`` should be ``interrupted_config(out)``) or ``restart``
    (discard it). With ``--distribute multiworker`` every worker runs this; only the
    chief writes ``out`` (the others work in a temporary folder they delete) and
    they return None. ``tensorboard`` (the chief's only) logs the training for
    TensorBoard; it is not a setting of the run. ``progress``: True shows a bar and a
    line per epoch, ``"bar"`` the bars only (a benchmark's trainings), False nothing;
    how they show is ``mnist_vae.progress``'s mode.
    """
    say = report or print
    config = with_absolute_data(config)
    from mnist_vae.training.distribution import is_chief

    distribution = _start_tensorflow(config, say)
    if not is_chief(distribution):
        _train_as_worker(config, distribution, data, say=say, command=command)
        return None
    finished = finish_leftover(config, Path(out), resume=resume, say=say)
    if finished is not None:
        return finished
    if resume and not overwrite:  # a killed train --overwrite goes on replacing OUT
        overwrite = bool((read_intent(out, TRAINING) or {}).get("overwrite"))
    out = check_output_dir(Path(out), overwrite=overwrite, kind="run")
    if tensorboard is not None:
        tensorboard.check_outside(out)
    check_interrupted(config, out, resume=resume, restart=restart)
    check_model_before_data(config)
    return _train(
        config,
        distribution,
        out,
        data,
        overwrite=overwrite,
        progress=progress,
        say=say,
        command=command,
        tensorboard=tensorboard,
    )


def _start_tensorflow(config: RunConfig, say: Reporter):
    """The thread layout and the distribution (None without one), set before any other
    TensorFlow work: TensorFlow reads the first when it starts, and multi-worker setup and
    the CPU's split into logical devices (--cpu-devices) require the second."""
    from mnist_vae.training.distribution import describe_distribution, make_distribution

    choose_training_threads(config.model)
    with quiet_tensorflow_startup():
        distribution = make_distribution(config.train.distribute, config.train.cpu_devices)
    if distribution is not None:  # before any work: a batch the replicas cannot share fails
        for line in describe_distribution(distribution, config.train.batch_size):
            say(line)
    prepare_backend()
    return distribution


def _train_as_worker(
    config: RunConfig, distribution, data: MnistData | None, *, say: Reporter, command: str | None
) -> None:
    """A non-chief worker's share of a multi-worker training: it must run every step with
    the chief, but only the chief writes the run, so it works in a temporary folder that
    is deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix="mnist-vae-worker-") as scratch:
        scratch_run = Path(scratch) / "run"
        _train(
            config,
            distribution,
            scratch_run,
            data,
            overwrite=False,
            progress=False,
            say=say,
            command=command,
        )


def with_absolute_data(config: RunConfig) -> RunConfig:
    """``config`` with its ``train.data`` path absolute (resolved against the current
    folder), as the run records it: a relative path would name other data, or none,
    when the run is evaluated or sampled from another folder."""
    data = config.train.data
    if data is None:
        return config
    absolute = os.path.abspath(os.path.expanduser(data))  # symbolic links kept as given
    return dataclasses.replace(config, train=dataclasses.replace(config.train, data=absolute))


class TrainingArrays(NamedTuple):
    """What a run trains on: images, their labels, the labels the model sees (-1 where
    hidden) and the labelled set each batch draws extra rows from (None: no such draws)."""

    images: np.ndarray
    labels: np.ndarray
    seen_labels: np.ndarray
    labelled: tuple[np.ndarray, np.ndarray] | None = None


def training_arrays(
    model, config: RunConfig, images: np.ndarray, labels: np.ndarray
) -> TrainingArrays:
    """The training set under ``train.labels`` (``--labels N``), for this model.

    Without it every image keeps its label. With it the N labelled images are
    ``select_labelled_set``'s (balanced, seeded, by content): a semi-supervised model
    (``semi_supervised``) trains on every image, the others' labels hidden as -1, and
    each batch also draws labelled rows from the N; a conditional (supervised) model
    trains on the N alone; any other model (no labels, or every image's) is a usage error.
    """
    count = config.train.labels
    if count is None:
        return TrainingArrays(images, labels, labels)
    check_labels_are_used(model, config)
    semi_supervised = bool(getattr(model, "semi_supervised", False))
    chosen = select_labelled_set(images, labels, count, config.train.seed)
    if not semi_supervised:
        return TrainingArrays(images[chosen], labels[chosen], labels[chosen])
    if count == len(images):
        return TrainingArrays(images, labels, labels)
    seen = np.full_like(labels, -1, dtype=np.int64)
    seen[chosen] = labels[chosen]
    return TrainingArrays(images, labels, seen, (images[chosen], labels[chosen]))


class UnusedLabelsError(UsageError):
    """Labels given to a strategy that does not train on a labelled subset (a front end
    that knows they came from a config file says so)."""

    fix = "give --labels to a semi-supervised (m2, m1_m2) or conditional (cvae) strategy"

    def __init__(self, labels: int, strategy: str) -> None:
        self.labels, self.strategy = labels, strategy
        self.problem = f"strategy {strategy!r} does not train on a labelled subset"
        super().__init__(f"--labels {labels}: {self.problem}; {self.fix}")


def check_labels_are_used(model, config: RunConfig) -> None:
    """``--labels N`` needs a model that uses labels: semi-supervised (m2) or conditional."""
    if config.train.labels is not None and not (
        getattr(model, "semi_supervised", False) or model.conditional
    ):
        raise UnusedLabelsError(config.train.labels, config.model.strategy)


def check_model_before_data(config: RunConfig) -> None:
    """What only the model can tell, checked before the data is read (a download on a
    new machine), on a model built for the check and dropped: ``--labels`` used
    (``check_labels_are_used``), and a per-pixel output bias for ``--output-bias mean``
    (MNIST's 28x28 pixels)."""
    if config.train.labels is None and config.train.output_bias != "mean":
        return
    from mnist_vae.models import build_model
    from mnist_vae.models.output_bias import checked_output_bias

    model = build_model(config.model, seed=config.train.seed)
    check_labels_are_used(model, config)
    if config.train.output_bias == "mean":
        checked_output_bias(model.decoder, 28 * 28)


INTENT = TRAINING.file  # in the stage: the config being trained, to resume with
CHECKPOINTS = "checkpoint"  # in the stage: what a killed run resumes from
HISTORY = "history.csv"  # in the stage: the per-epoch log, kept up to the checkpoint
SCRATCH = (CHECKPOINTS, INTENT)  # removed from the result in this order: the intent last


def _comparable(config: dict) -> dict:
    """A config as the resume check compares it: the checkpoint interval changes when
    checkpoints are written, not what is trained, so a rerun may change it; a data path
    is compared absolute."""
    data = config["train"].get("data")  # a run interrupted before paths were made absolute
    absolute = None if data is None else os.path.abspath(os.path.expanduser(data))
    return {**config, "train": {**config["train"], "checkpoint_steps": None, "data": absolute}}


def interrupted_config(out: str | Path) -> RunConfig:
    """The config of the interrupted run of ``out`` (``mnist-vae train --resume OUT``).

    Only a stage mnist-vae marked is resumed: a ``.NAME.training`` folder without the
    marker (a user's) is a usage error; an earlier version's, with its intent file, is
    resumed. A run stopped after it became ``out`` but before it was tidied counts:
    resuming it tidies it (``finish_leftover``). An intent file that does not read
    beside checkpoints is a ``WorkKeptError``, not "nothing to resume".
    """
    from mnist_vae.io.folders import unrecognised_stage
    from mnist_vae.io.marks import TRAINING as TRAINING_STAGE
    from mnist_vae.io.marks import foreign_stage

    stage = training_stage_path(Path(out))
    if foreign_stage(stage, TRAINING_STAGE, Path(out)):
        raise UsageError(unrecognised_stage(stage, Path(out).expanduser()))
    stored = read_intent(out, TRAINING) or leftover_intent(out, TRAINING)
    problem = damaged_intent(out, TRAINING) if stored is None else None
    if problem is not None:
        raise damaged_intent_error(out, TRAINING, problem)
    if stored is None:
        raise UsageError(
            f"nothing to resume: no interrupted run of {out} (its work would be "
            f"in {training_stage_path(Path(out)).name})"
        )
    return RunConfig.from_dict(stored["config"])


def replan_epochs(config: RunConfig, out: str | Path, epochs: int) -> RunConfig:
    """The interrupted run of ``out`` set to end after ``epochs`` epochs instead of its own.

    ``mnist-vae train --resume OUT --epochs N``: a long training planned across sessions
    can be cut short or carried on. Everything else stays the run's own, so its epochs
    so far are unchanged; that is only true when nothing trained so far depended on the
    planned length, so a cosine schedule (which spans it) and a newest checkpoint inside
    an epoch (whose compiled calls were sized by it) are refused, and ``N`` must leave at
    least one epoch to train. Only checks: ``train`` records ``N`` in the stage's intent
    once it holds the stage's lock, so a later interruption resumes with it.
    """
    with quiet_tensorflow_startup():  # its module imports Keras: no start-up notices
        from mnist_vae.training.checkpoints import read_index

    if epochs == config.train.epochs:
        return config
    if config.train.lr_schedule == "cosine":
        raise UsageError(
            "--epochs cannot change on --resume under --lr-schedule cosine: its decay spans "
            f"the planned {config.train.epochs} epochs; resume without --epochs"
        )
    stage = training_stage_path(Path(out))
    try:
        positions = read_index(stage / CHECKPOINTS)
    except ValueError as error:
        raise UsageError(f"--epochs cannot change on --resume: {error}") from None
    done = positions[-1] if positions else None
    if done is not None and done.step:
        raise UsageError(
            f"--epochs cannot change on --resume from a checkpoint inside an epoch "
            f"({done.describe()}): resume without --epochs, or from an epoch's end"
        )
    trained = done.epoch if done is not None else 0
    if epochs <= trained:
        raise UsageError(
            f"--epochs {epochs}: {out} has already trained {trained} epochs; "
            f"give more than {trained}"
        )
    if read_intent(out, TRAINING) is None:  # a finished run still holding its intent
        raise UsageError(f"--epochs cannot change on --resume: {out} has finished training")
    return dataclasses.replace(config, train=dataclasses.replace(config.train, epochs=epochs))


def check_interrupted(config: RunConfig, out: Path, *, resume: bool, restart: bool) -> None:
    """Before any work: decide what to do with an interrupted run of ``out``, if any."""
    if resume and not training_stage_path(out).exists():
        interrupted_config(out)  # says there is nothing to resume
    check_interrupted_work(
        out,
        TRAINING,
        {"config": _comparable(config.to_dict())},
        resume=resume,
        restart=restart,
        normalise=lambda stored: {
            "config": _comparable(RunConfig.from_dict(stored["config"]).to_dict())
        },
        advice=f"continue it with 'mnist-vae train --resume {out}', or pass --restart to "
        "discard it",
    )


def finish_leftover(config: RunConfig, out: Path, *, resume: bool, say: Reporter) -> Run | None:
    """Tidy a run stopped after it became ``out`` and before its scratch was removed.

    Such a run is complete (the rename is the last step of its writing): the rerun of
    its command, or ``--resume``, removes what only resuming needed and returns it.
    None when ``out`` is no such run, or one of other settings (then ``out`` is
    checked as any output is: an existing run is kept without ``--overwrite``).
    """
    stored = leftover_intent(out, TRAINING)
    if stored is None:
        return None
    if not resume:
        try:
            trained = RunConfig.from_dict(stored["config"])
        except (KeyError, TypeError, ValueError):
            return None
        if _comparable(trained.to_dict()) != _comparable(config.to_dict()):
            return None
    remove_scratch(out, SCRATCH)
    say(f"{out} was complete but still held what only resuming needs; removed it")
    return load_run(out)


def _remove(folder: Path, names: tuple[str, ...]) -> None:
    """Remove ``folder``'s files and folders of these names, in this order, if there."""
    for name in names:
        path = folder / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def _clear_unfinished(stage: Path) -> None:
    """Remove what an earlier attempt wrote after training (model, metrics, figures, run
    files, staging files of a killed write): each attempt writes the run afresh from
    the checkpoint, so no step of finishing ever meets a half-done earlier one."""
    from mnist_vae.io.marks import STAGE_MARKER  # the proof that the stage is ours stays

    kept = {INTENT, CHECKPOINTS, HISTORY, STAGE_MARKER}
    _remove(stage, tuple(sorted(set(os.listdir(stage)) - kept)))


def _scope(distribution):
    """The distribution's scope (variables made in it are the replicas'), or none."""
    return distribution.scope() if distribution is not None else contextlib.nullcontext()


class Prepared(NamedTuple):
    """The model and the data it trains on, ready before the run's folder is touched."""

    model: Any
    data: MnistData
    arrays: TrainingArrays
    provenance: dict
    data_seconds: float


def _train(
    config, distribution, out: Path, data, *, overwrite, progress, say, command, tensorboard=None
) -> Run:
    from mnist_vae.models import strategy_options

    strategy_options(config.model)  # a bad option fails before the data is loaded
    ready = _prepare(config, distribution, data, say)
    arrays = ready.arrays
    with locked_stage(out, overwrite=overwrite, scratch=SCRATCH, progress=(CHECKPOINTS,)) as (
        stage,
        existed,
    ):
        if not (stage / INTENT).exists():
            started = command or " ".join(sys.argv)
            intent = {"config": config.to_dict(), "command": started, "overwrite": overwrite}
            write_json_atomic(stage / INTENT, intent)
        else:
            _record_replanned_epochs(stage / INTENT, config)
        command = started_by(stage / INTENT) or command  # after a resume too: how to repeat it
        with _scope(distribution):  # the optimizer's variables: under the distribution too
            fitter = Fitter(
                ready.model,
                config,
                arrays.images,
                arrays.seen_labels,
                ready.data.x_test,
                ready.data.y_test,
                labelled=arrays.labelled,
            )
        # Record what ran: "auto" precision becomes the one this machine used.
        config = dataclasses.replace(
            config, train=dataclasses.replace(config.train, precision=fitter.precision)
        )
        history, fit_seconds = _fit(
            fitter,
            ready,
            config,
            stage,
            resumed=existed,
            out=out,
            progress=progress,
            say=say,
            tensorboard=tensorboard,
        )
        _check_finite(history, ready.model, config)
        _clear_unfinished(stage)
        _write_run(stage, ready, config, history, fit_seconds, progress=progress, command=command)
    return load_run(out)


def _record_replanned_epochs(intent: Path, config: RunConfig) -> None:
    """A resumed run given another ``--epochs`` (``replan_epochs``): its intent says so from
    now on, so a later interruption resumes with it, and so does its command, which the
    run records as how to train it again. Only the epochs are rewritten."""
    stored = json.loads(intent.read_text())
    planned = stored["config"]["train"].get("epochs")
    if planned is None or planned == config.train.epochs:
        return
    train = {**stored["config"]["train"], "epochs": config.train.epochs}
    replanned = {**stored, "config": {**stored["config"], "train": train}}
    if isinstance(stored.get("command"), str) and stored["command"]:
        replanned["command"] = with_epochs(stored["command"], config.train.epochs)
    write_json_atomic(intent, replanned)


def with_epochs(command: str, epochs: int) -> str:
    """``command`` (a ``train`` command line) made to train ``epochs`` epochs: its
    ``--epochs`` value replaced, or the option added."""
    import shlex

    tokens = shlex.split(command)
    for index, token in enumerate(tokens):
        if token == "--epochs" and index + 1 < len(tokens):
            tokens[index + 1] = str(epochs)
            break
        if token.startswith("--epochs="):
            tokens[index] = f"--epochs={epochs}"
            break
    else:
        tokens += ["--epochs", str(epochs)]
    return shlex.join(tokens)


def _prepare(config: RunConfig, distribution, data: MnistData | None, say: Reporter) -> Prepared:
    """Load (and binarize) the data, choose the training set, build the model for it."""
    import keras

    from mnist_vae.models import TrainingContext, build_model

    started = time.perf_counter()
    if data is None:
        data = load_mnist(config.train.data, report=say)
    data_seconds = time.perf_counter() - started
    say(f"{data.describe()} [{data_seconds:.1f} s]")
    provenance = data.provenance  # of the arrays as loaded, before any binarization
    mode = config.train.binarize
    if mode != "none":  # dynamic: the training images stay grey; the pipeline samples them
        train_images = binarized(data.x_train) if mode == "threshold" else data.x_train
        data = dataclasses.replace(
            data, x_train=train_images, x_test=binarize_test_set(data.x_test, mode)
        )
    seed = config.train.seed
    keras.utils.set_random_seed(seed)
    context = TrainingContext.for_training(config.train, available=len(data.x_train))
    with _scope(distribution):
        model = build_model(config.model, seed=seed, context=context)
    if distribution is not None:
        model.check_distributable()
    chosen = select_training_set(data.x_train, data.y_train, config.train.train_size, seed)
    arrays = training_arrays(model, config, data.x_train[chosen], data.y_train[chosen])
    if len(arrays.images) < len(chosen):  # the N labelled images alone: build for those
        keras.utils.set_random_seed(seed)
        context = TrainingContext(
            train_images=len(arrays.images), batch_size=config.train.batch_size
        )
        with _scope(distribution):
            model = build_model(config.model, seed=seed, context=context)
    if config.train.output_bias == "mean":  # a resumed run's checkpoint replaces it
        from mnist_vae.models.output_bias import set_output_bias_to_mean

        set_output_bias_to_mean(model, arrays.images)
    return Prepared(model, data, arrays, provenance, data_seconds)


def _fit(
    fitter: Fitter,
    ready: Prepared,
    config: RunConfig,
    stage: Path,
    *,
    resumed: bool,
    out: Path,
    progress,
    say: Reporter,
    tensorboard,
) -> tuple[dict, float]:
    """Train from the stage's last checkpoint (if ``resumed``) to the last epoch,
    checkpointing as it goes; returns the history and the seconds the whole training
    took, the parts before a resume included (the checkpoint carries them)."""
    import keras

    from mnist_vae.training.checkpoints import EpochCheckpoint

    model, epochs = ready.model, config.train.epochs
    checkpoint = EpochCheckpoint(stage / CHECKPOINTS, steps=fitter.checkpoint_steps, report=say)
    checkpoint.set_model(model)
    initial_epoch, initial_step = checkpoint.restore() if resumed else (0, 0)
    if initial_epoch or initial_step:
        into = (
            f" and {initial_step}/{fitter.steps_per_epoch} steps of epoch {initial_epoch + 1}"
            if initial_step
            else ""
        )
        say(f"resuming {out} after epoch {initial_epoch} of {epochs}{into}")
    history_path = stage / HISTORY
    keep_history_before(history_path, initial_epoch)
    callbacks = [keras.callbacks.CSVLogger(str(history_path), append=True), checkpoint]
    watched = contextlib.nullcontext()  # the progress task, ended also by an error
    if progress:
        from mnist_vae.training.progress import TrainingProgress

        watched = TrainingProgress(
            epochs,
            fitter.steps_per_epoch,
            epoch_lines=progress is True,
            completed=initial_epoch * fitter.steps_per_epoch + initial_step,
        )
        callbacks.append(watched)
    if tensorboard is not None:
        callbacks += tensorboard.callbacks(
            to_float_images(ready.data.x_test),
            ready.data.y_test,
            epochs=epochs,
            seed=config.train.seed,
            conditional=bool(model.conditional),
        )
    with watched:
        fitter.fit(epochs, callbacks, initial_epoch=initial_epoch, initial_step=initial_step)
    return read_history(history_path), checkpoint.elapsed_seconds()


def _write_run(
    stage: Path,
    ready: Prepared,
    config: RunConfig,
    history: dict,
    fit_seconds: float,
    *,
    progress,
    command: str | None,
) -> None:
    """The finished run's files into the stage: model, metrics, figures, config, card."""
    from mnist_vae.progress import task
    from mnist_vae.training.run_figures import training_class_means, write_run_figures

    model, data, arrays = ready.model, ready.data, ready.arrays
    x_train, y_train = arrays.images, arrays.labels
    with task(
        "writing the run: metrics, figures", total=3, unit="parts", show=bool(progress)
    ) as written:
        model.save(stage / "model.keras")
        for name, network in model.extra_networks().items():
            network.save(stage / f"{name}.keras")  # usable on its own: --classifier-weights
        written()
        metrics = _final_metrics(
            model, data, history, fit_seconds, ready.data_seconds, len(x_train), config
        )
        written()
        if config.train.figures:
            means = write_run_figures(
                model, data, x_train, y_train, history, stage, config.train.seed
            )
        else:
            means = training_class_means(model, x_train, y_train)
        written()
    write_run_files(
        stage,
        config=config,
        data={**ready.provenance, "train_images": len(x_train), "test_images": len(data.x_test)},
        metrics=metrics,
        class_means=means,
        latent_shape=tuple(model.latent_shape),
        command=command,
    )


def started_by(intent: Path) -> str | None:
    """The command that started a run, from its intent file (None if it holds none).

    A resumed run records this, not ``train --resume OUT``, so that its config.json and
    a shipped model's card say how to train it again."""
    import json

    try:
        command = json.loads(intent.read_text()).get("command")
    except (OSError, ValueError, AttributeError):
        return None
    return command if isinstance(command, str) and command else None


def keep_history_before(path: Path, epoch: int) -> None:
    """Drop the rows of epochs from ``epoch`` on: they are trained again after a resume."""
    if not path.exists():
        return
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    kept = [rows[0], *(row for row in rows[1:] if row and int(row[0]) < epoch)] if rows else []
    if epoch == 0 or not kept:
        path.unlink()
        return
    from mnist_vae.io import atomic_file

    with atomic_file(path, "w") as handle:
        csv.writer(handle).writerows(kept)  # the dialect CSVLogger writes


def read_history(path: Path) -> dict[str, list[float]]:
    """The per-epoch metrics of the whole run, resumed parts included, from its CSV log."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {
        key: [float(row[key]) for row in rows]
        for key in (rows[0] if rows else {})
        if key != "epoch"
    }


def _check_finite(history: dict, model, config: RunConfig) -> None:
    """Divergence shows in the training or test loss, or only in the weights after one step.

    A finite loss beyond ``SANE_LOSS`` nats per image is a divergence too: no image
    costs that much under a model that is still learning.
    """
    from mnist_vae.training.callbacks import SANE_LOSS

    epochs = len(history.get("loss", []))
    values = [v for name in ("loss", "val_loss") for v in history.get(name, [])]
    finite = epochs > 0 and all(math.isfinite(v) and abs(v) <= SANE_LOSS for v in values)
    finite = finite and all(np.isfinite(w).all() for w in model.get_weights())
    if not finite:
        worst = max((abs(v) for v in values if math.isfinite(v)), default=float("nan"))
        seen = (
            "were not finite"
            if any(not math.isfinite(v) for v in values) or not values
            else f"reached {worst:.3g} nats per image"
        )
        raise RunError(
            f"training diverged (losses {seen} by epoch {epochs}); try "
            f"{divergence_remedies(config)}; nothing was written"
        )


def divergence_remedies(config: RunConfig) -> str:
    """What to change, naming the settings in play rather than always the learning rate."""
    remedies = [f"a lower --lr than {config.train.learning_rate:g}"]
    model = config.model
    if model.beta > 1.0:
        remedies.append(f"a --beta nearer 1 than {model.beta:g}")
    if (
        model.likelihood == "gaussian"
        and model.gaussian_variance is not None
        and model.gaussian_variance < 0.01
    ):
        remedies.append(
            f"a larger --gaussian-variance than {model.gaussian_variance:g} "
            "(or leave it out: the sigma-VAE default)"
        )
    if config.train.optimizer == "sgdm" and (config.train.lr_decay or 0) == 0:
        remedies.append("a positive --lr-decay")
    return " or ".join(remedies)


def _final_metrics(model, data, history, fit_seconds, data_seconds, train_images, config) -> dict:
    from mnist_vae.models.inference import evaluate_elbo

    x_test = to_float_images(data.x_test)
    test = evaluate_elbo(model, x_test, data.y_test)
    extra = getattr(model, "extra_test_metrics", None)  # e.g. a classifier's accuracy
    return {
        "test": {
            "negative_elbo": test["loss"],
            "reconstruction": test["reconstruction"],
            "kl": test["kl"],
            **(extra(x_test, data.y_test.astype("int32")) if extra is not None else {}),
        },
        "train_final_epoch": {name: history[name][-1] for name in ("loss", "reconstruction", "kl")},
        "units": "nats per image; negative_elbo = reconstruction + kl (one sample of z per image)",
        "likelihood": config.model.likelihood,
        "epochs": len(history["loss"]),
        "train_images": train_images,
        "train_seconds": round(fit_seconds, 2),
        "train_images_per_second": round(train_images * len(history["loss"]) / fit_seconds, 1),
        "data_seconds": round(data_seconds, 2),
    }
