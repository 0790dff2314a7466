"""``mnist-vae benchmark``: measurements beyond a single run."""

from __future__ import annotations

import time
from pathlib import Path

import click

from mnist_vae.cli.errors import handle_errors
from mnist_vae.cli.options import (
    RegisteredOption,
    RunPath,
    data_option,
    debug_option,
    overwrite_option,
    quiet_option,
    seed_option,
)
from mnist_vae.errors import first_line


def restart_option(command):
    return click.option(
        "--restart",
        is_flag=True,
        help="Discard an interrupted benchmark of --out and start afresh (by default the "
        "same command continues it at the step it reached).",
    )(command)


@click.group()
def benchmark() -> None:
    """Benchmarks: does VAE-made data help a classifier? Test NLL beside the papers."""


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a comma-separated list of numbers") from None


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a comma-separated list of whole numbers"
        ) from None


# Options of the report's protocol that the label-budget protocol has no use for.
HALVES_ONLY = ("fractions", "synthetic_ratio", "synthetic_count", "generator", "cvae_generator")


@benchmark.command(context_settings={"show_default": True})
@click.option(
    "--fractions", default="0.2,0.5,1.0", help="Fractions of half B to train the classifier on."
)
@click.option(
    "--labels",
    "label_budgets",
    default=None,
    metavar="N,N,...",
    help="The label-budget protocol instead of the report's: for each N (e.g. "
    "100,600,1000,3000), N labelled training images (balanced, seeded) and every other "
    "image without its label, for the classifier and the generators alike. Methods: m1, "
    "m2, m2-digits, cvae-digits, m1-m2 (docs/benchmarks.md).",
)
@click.option(
    "--methods",
    default="class-mean",
    help="Comma-separated: class-mean, encode-noise, cvae, filtered. [with --labels: "
    "m1,m2,m2-digits,cvae-digits,m1-m2]",
)
@click.option(
    "--synthetic-ratio",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    help="Synthetic images per real image.",
)
@click.option(
    "--synthetic-count",
    type=click.IntRange(min=1),
    default=None,
    help="Add this many synthetic images at every fraction (overrides --synthetic-ratio).",
)
@click.option(
    "--seeds", default="0", help="Comma-separated seeds (split, generators, classifiers)."
)
@click.option("--arch", cls=RegisteredOption, registry="architectures", default="net1",
              help="Architecture of generators trained on the fly. [with --labels: "
              "mlp]")  # fmt: skip
@click.option(
    "--latent-dim",
    type=click.IntRange(min=1),
    default=2,
    help="Latent size of generators trained on the fly. [with --labels: 50]",
)
@click.option(
    "--generator-epochs",
    type=click.IntRange(min=1),
    default=10,
    help="With --labels: epochs over all training images of the M1 VAE and of each m2.",
)
@click.option(
    "--m1-m2-epochs",
    type=click.IntRange(min=1),
    default=30,
    help="With --labels: epochs over all training images of each m1_m2 (M2 on M1's codes).",
)
@click.option(
    "--generator",
    type=RunPath(),
    default=None,
    help="A vae run to use instead of training one on half A (one seed only).",
)
@click.option(
    "--cvae-generator",
    type=RunPath(),
    default=None,
    help="A cvae run for the cvae and filtered methods.",
)
@click.option("--classifier", cls=RegisteredOption, registry="classifiers", default="small",
              help="Registered classifier to train.")  # fmt: skip
@click.option(
    "--classifier-epochs",
    type=click.IntRange(min=1),
    default=10,
    help="Epochs (at least 1,000 steps on small sets).",
)
@click.option(
    "--quick",
    is_flag=True,
    help="Tiny generators and classifiers: checks the pipeline, not the answer.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder for results.json, results.csv, accuracy.png. [default: runs/augment-TIME]",
)
@overwrite_option
@restart_option
@data_option
@quiet_option
@debug_option
@handle_errors
@click.pass_context
def augment(ctx, fractions, label_budgets, methods, synthetic_ratio, synthetic_count, seeds, arch,
            latent_dim, generator_epochs, m1_m2_epochs, generator, cvae_generator, classifier,
            classifier_epochs, quick, out, overwrite, restart, data, quiet) -> None:  # fmt: skip
    """Train a classifier on real digits with and without VAE-made ones and compare.

    The defaults are the report's protocol (class-mean synthesis, f = 0.2, 0.5, 1.0; its
    generators learn from half A's 30,000 labels). With --labels N,... the label-budget
    protocol: every method has the same N labels. Progress shows every step with the
    time left for the whole benchmark.
    """
    from mnist_vae.benchmarks import AugmentConfig, run_benchmark
    from mnist_vae.data import load_mnist
    from mnist_vae.errors import UsageError
    from mnist_vae.io import check_output_dir

    if label_budgets is not None:
        _label_budget(ctx, label_budgets, methods, seeds, arch, latent_dim, generator_epochs,
                      m1_m2_epochs, classifier, classifier_epochs, quick, out, overwrite,
                      restart, data)  # fmt: skip
        return
    names = tuple(m.strip().replace("-", "_") for m in methods.split(",") if m.strip())
    config = AugmentConfig(
        fractions=_floats(fractions), methods=names, synthetic_ratio=synthetic_ratio,
        synthetic_count=synthetic_count,
        seeds=_ints(seeds), arch=arch, latent_dim=latent_dim, generator=generator,
        cvae_generator=cvae_generator, classifier=classifier,
        classifier_epochs=classifier_epochs, quick=quick,
    )  # fmt: skip
    if (generator or cvae_generator) and len(config.seeds) > 1:
        raise UsageError("a given --generator was trained on one split: use it with a single seed")
    if cvae_generator is not None:
        from mnist_vae.runs import load_run

        if load_run(cvae_generator).config.model.strategy != "cvae":
            raise UsageError(f"--cvae-generator {cvae_generator} is not a cvae run")
    out = out or f"runs/augment-{time.strftime('%Y%m%d-%H%M%S')}"
    check_output_dir(out, overwrite=overwrite)

    def say(message: str) -> None:
        click.echo(message, err=True)

    results = run_benchmark(config, load_mnist(data, report=say), out, overwrite=overwrite,
                            restart=restart, report=say)  # fmt: skip
    _print_table(results)
    click.echo(f"wrote {out}/results.json, results.csv and accuracy.png")


def _given(ctx: click.Context, name: str) -> bool:
    from click.core import ParameterSource

    return ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, None)


def _label_budget(ctx, label_budgets, methods, seeds, arch, latent_dim, generator_epochs,
                  m1_m2_epochs, classifier, classifier_epochs, quick, out, overwrite, restart,
                  data) -> None:  # fmt: skip
    """``benchmark augment --labels``: the label-budget protocol (docs/benchmarks.md)."""
    from mnist_vae.benchmarks.label_budget import METHODS, LabelBudgetConfig, run_label_budget
    from mnist_vae.data import load_mnist
    from mnist_vae.errors import UsageError
    from mnist_vae.io import check_output_dir

    unused = [name for name in HALVES_ONLY if _given(ctx, name)]
    if unused:
        flag = "--" + unused[0].replace("_", "-")
        raise UsageError(f"{flag} belongs to the report's protocol; with --labels every "
                         "method gets the same labelled images (see docs/benchmarks.md)")
    names = (tuple(m.strip().replace("-", "_") for m in methods.split(",") if m.strip())
             if _given(ctx, "methods") else METHODS)  # fmt: skip
    config = LabelBudgetConfig(
        labels=_ints(label_budgets), methods=names, seeds=_ints(seeds),
        arch=arch if _given(ctx, "arch") else "mlp",
        latent_dim=latent_dim if _given(ctx, "latent_dim") else 50,
        generator_epochs=generator_epochs, m1_m2_epochs=m1_m2_epochs, classifier=classifier,
        classifier_epochs=classifier_epochs, quick=quick,
    )  # fmt: skip
    out = out or f"runs/labels-{time.strftime('%Y%m%d-%H%M%S')}"
    check_output_dir(out, overwrite=overwrite)

    def say(message: str) -> None:
        click.echo(message, err=True)

    results = run_label_budget(config, load_mnist(data, report=say), out, overwrite=overwrite,
                               restart=restart, report=say)  # fmt: skip
    _print_budget_table(results)
    click.echo(f"wrote {out}/results.json, results.csv and error.png")


def _print_budget_table(results: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    paper = results.get("paper") or {}
    table = Table(title="test error (%), mean +- std over seeds; accuracy gain vs real only "
                  "(paired t-test); the paper's M2 and M1+M2 beside")  # fmt: skip
    for column in ("labels", "method", "error", "gain", "p", "paper M2", "paper M1+M2"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for row in results["summary"]:
        test = row.get("vs_real")
        gain = "" if test is None else f"{100 * test['mean_difference']:+.2f}"
        p = "" if test is None or test["p"] != test["p"] else f"{test['p']:.3f}"
        error = f"{100 * row['error']:.2f} +- {100 * row['std']:.2f}"
        anchors = [f"{paper[name][row['labels']]:.2f}" if row["labels"] in paper.get(name, {})
                   and row["method"] == "real" else "" for name in ("M2", "M1+M2")]  # fmt: skip
        table.add_row(str(row["labels"]), row["method"].replace("_", "-"), error, gain, p,
                      *anchors)  # fmt: skip
    Console().print(table)


def _print_table(results: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title="test accuracy (%), mean +- std over seeds; difference vs real only (paired t-test)"
    )
    for column in ("fraction", "method", "accuracy", "difference", "p"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for row in results["summary"]:
        test = row.get("vs_real")
        difference = "" if test is None else f"{100 * test['mean_difference']:+.2f}"
        p = "" if test is None or test["p"] != test["p"] else f"{test['p']:.3f}"
        accuracy = f"{100 * row['mean']:.2f} +- {100 * row['std']:.2f}"
        method = row["method"].replace("_", "-")
        table.add_row(f"{row['fraction']:g}", method, accuracy, difference, p)
    Console().print(table)


@benchmark.command(context_settings={"show_default": True})
@click.option(
    "--strategies",
    cls=RegisteredOption,
    registry="strategies",
    separator=",",
    default="vae,iwae,vamp",
    help="Comma-separated strategies to train with the same networks and budget ('' for none).",
)
@click.option(
    "--run",
    "runs",
    multiple=True,
    type=RunPath(),
    help="Also measure this existing run (repeatable).",
)
@click.option("--arch", cls=RegisteredOption, registry="architectures", default="mlp",
              help="Architecture of the models trained here.")  # fmt: skip
@click.option("--latent-dim", type=click.IntRange(min=1, max=4096), default=50, help="Size of z.")
@click.option("--epochs", type=click.IntRange(min=1), default=100, help="Epochs per model.")
@click.option("--batch-size", type=click.IntRange(min=1), default=100, help="Images per step.")
@click.option(
    "--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3, help="Adam's learning rate."
)
@click.option(
    "--binarize",
    type=click.Choice(["none", "threshold", "dynamic"]),
    default="dynamic",
    help="Training pixels (the test set follows): dynamic is the literature's setting.",
)
@click.option(
    "--iw-samples",
    type=click.IntRange(min=1, max=100_000),
    default=5000,
    help="K, the importance samples per test image (the IWAE paper used 5000).",
)
@click.option(
    "--option",
    multiple=True,
    metavar="NAME=VALUE",
    help="A strategy option, for every strategy that declares it (e.g. iw_samples=50, "
    "pseudo_inputs=500). Repeatable.",
)
@seed_option("Random seed: initial weights, shuffling, binary draws and importance samples.")
@click.option(
    "--quick", is_flag=True, help="One epoch per model, 200 test images: checks the pipeline."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder for results.json, nll.png and the trained runs. [default: runs/nll-TIME]",
)
@overwrite_option
@restart_option
@data_option
@quiet_option
@debug_option
@handle_errors
def nll(strategies, runs, arch, latent_dim, epochs, batch_size, lr, binarize, iw_samples,
        option, seed, quick, out, overwrite, restart, data, quiet) -> None:  # fmt: skip
    """Test-set negative log-likelihood by importance sampling, beside the papers' figures.

    Trains each strategy with the same networks and budget (default: the IWAE paper's
    MLP, latent 50, on dynamically binarized MNIST), or measures given runs.
    """
    from mnist_vae.benchmarks.nll import NllConfig, run_nll_benchmark
    from mnist_vae.cli.options import parse_option_pairs
    from mnist_vae.data import load_mnist
    from mnist_vae.io import check_output_dir
    from mnist_vae.registry import architectures

    names = tuple(s.strip() for s in strategies.split(",") if s.strip())
    architectures.check(arch)
    config = NllConfig(
        strategies=names, runs=tuple(runs), arch=arch, latent_dim=latent_dim, epochs=epochs,
        batch_size=batch_size, learning_rate=lr, binarize=binarize, iw_samples=iw_samples,
        seed=seed, options=parse_option_pairs(option), quick=quick,
    )  # fmt: skip
    for name in names:  # every option and value checked before any training
        config.run_config(name)
    out = out or f"runs/nll-{time.strftime('%Y%m%d-%H%M%S')}"
    check_output_dir(out, overwrite=overwrite)

    def say(message: str) -> None:
        click.echo(message, err=True)

    mnist = load_mnist(data, report=say)
    results = run_nll_benchmark(config, mnist, out, overwrite=overwrite, restart=restart,
                                report=say)  # fmt: skip
    _print_nll_table(results)
    click.echo(f"wrote {out}/results.json and nll.png")


def _print_nll_table(results: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    from mnist_vae.benchmarks.nll import model_key

    rows = results["rows"]
    k = rows[0]["iw_samples"] if rows else "?"
    setting = (f"{rows[0]['architecture']}, latent {rows[0]['latent_dim']}, "
               f"{rows[0]['binarize']} binarization") if rows else ""  # fmt: skip
    table = Table(title=f"test NLL (nats), importance sampling with K = {k}; {setting}")
    columns = ("model", "NLL", "paper", "-ELBO", "KL", "active", "params", "epochs", "train s")
    for column in columns:
        table.add_column(column, justify="left" if column == "model" else "right")
    sources = []
    for row in rows:
        anchor = row["anchor"]
        if anchor:
            sources.append(f"{model_key(row['strategy'], row.get('options'))}: {anchor[0]}")
        table.add_row(
            model_key(row["strategy"], row.get("options")),
            f"{row['nll']:.2f}", f"{anchor[1]:.2f}" if anchor else "-",
            f"{row['negative_elbo']:.2f}", f"{row['kl']:.2f}",
            f"{row['active_units']}", f"{row['parameters'] / 1000:.0f}k", str(row["epochs"]),
            f"{row['train_seconds']:.0f}",
        )  # fmt: skip
    console = Console()
    console.print(table)
    for source in sources:
        console.print(f"  paper, {source}", highlight=False)


@benchmark.command()
@click.argument("results", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=True))  # fmt: skip
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Folder for the merged results.json, results.csv and error.png.")  # fmt: skip
@overwrite_option
@debug_option
@handle_errors
def merge(results, out, overwrite) -> None:
    """Merge label-budget results run apart (other seeds or methods) into one table.

    RESULTS are results.json files or the folders holding them, e.g. one per seed run
    side by side; together they must cover every seed, budget and method of their union.
    Each is checked before anything is written (one experiment: the same protocol, data
    and settings; finite accuracies), and --out may not hold any of them.
    """
    import json

    from mnist_vae.benchmarks.label_budget import merge_results
    from mnist_vae.errors import UsageError
    from mnist_vae.io import check_output_dir

    paths = [_results_file(given) for given in results]
    _check_merge_paths(results, paths, out)
    check_output_dir(out, overwrite=overwrite)
    parts = []
    for given, path in zip(results, paths, strict=True):
        try:
            parts.append(json.loads(path.read_text()))
        except (OSError, ValueError) as error:
            raise UsageError(f"cannot read a results.json from {given}: "
                             f"{first_line(error)}") from None  # fmt: skip
    merged = merge_results(parts, out, overwrite=overwrite, names=[str(p) for p in paths])
    _print_budget_table(merged)
    click.echo(f"wrote {out}/results.json, results.csv and error.png")


def _results_file(given: str) -> Path:
    """The results.json a RESULTS argument names: the file, or the one in the folder."""
    path = Path(given)
    return path / "results.json" if path.is_dir() else path


def _check_merge_paths(results: tuple[str, ...], paths: list[Path], out: str) -> None:
    """Before any work: no input twice, and none where the merge writes (--out's folder,
    which --overwrite replaces whole), so a merge never destroys what it reads."""
    from mnist_vae.errors import UsageError

    target = Path(out).expanduser().resolve()
    seen: dict[Path, str] = {}
    for given, path in zip(results, paths, strict=True):
        resolved = path.resolve()
        if resolved == target or target in resolved.parents:
            raise UsageError(f"{given} is in --out {out}, where merge writes results.json, "
                             "results.csv and error.png; choose another --out")  # fmt: skip
        if resolved in seen:
            raise UsageError(f"{given} is given twice (also as {seen[resolved]}); give each "
                             "result once")  # fmt: skip
        seen[resolved] = given
