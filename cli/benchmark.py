"""``mnist-vae benchmark``: measurements beyond a single run.

Each benchmark's flags are its config record's fields (``config_flag_specs``): their
defaults, bounds and help are declared there once.
"""

from __future__ import annotations

import click

from mnist_vae.cli.benchmark_labels import LABEL_FLAGS, labels, run_labels, say
from mnist_vae.cli.errors import handle_errors
from mnist_vae.cli.options import (
    benchmark_options,
    config_options,
    debug_option,
    print_table,
    request_options,
)
from mnist_vae.experiments.augment import AugmentConfig
from mnist_vae.experiments.merge_inputs import MergeRequest
from mnist_vae.experiments.nll import NllConfig
from mnist_vae.experiments.skeleton import BenchmarkControls, run_benchmark_command
from mnist_vae.experiments.tables import (
    augment_table,
    label_budget_table,
    nll_sources,
    nll_spread_lines,
    nll_table,
)
from mnist_vae.settings import config_flag_specs, given_settings, taken_record


@click.group()
def benchmark() -> None:
    """Benchmarks: does VAE-made data help a classifier? Test NLL beside the papers."""


benchmark.add_command(labels)

AUGMENT_FLAGS = config_flag_specs(AugmentConfig)
# ``augment --labels``, the former name of ``benchmark labels``: its --labels flag, and
# hidden, the flags only the label-budget protocol has; the report's own flags are
# refused with it (HALVES_ONLY).
_AUGMENT_NAMES = {spec["name"] for spec in AUGMENT_FLAGS}
_LABEL_NAMES = {spec["name"] for spec in LABEL_FLAGS}
ALIAS_FLAGS = [
    {
        **spec,
        "help": "The label-budget protocol instead of the report's: an alias of "
        "'benchmark labels --labels N,...', which has its flags.",
    }
    if spec["name"] == "labels"
    else spec
    for spec in LABEL_FLAGS
    if spec["name"] not in _AUGMENT_NAMES
]
ALIAS_HIDDEN = tuple(spec["name"] for spec in ALIAS_FLAGS if spec["name"] != "labels")
HALVES_ONLY = tuple(spec["name"] for spec in AUGMENT_FLAGS if spec["name"] not in _LABEL_NAMES)
ALIAS_NOTE = "note: 'benchmark augment --labels' is now 'benchmark labels' (the same flags)"


@benchmark.command(context_settings={"show_default": True})
@config_options([*AUGMENT_FLAGS, *ALIAS_FLAGS], hidden=ALIAS_HIDDEN)
@benchmark_options("augment", "results.json, results.csv, accuracy.png")
@handle_errors
def augment(quiet: bool, **values) -> None:
    """Train a classifier on real digits with and without VAE-made ones and compare.

    The defaults are the report's protocol (class-mean synthesis, f = 0.2, 0.5, 1.0; its
    generators learn from half A's 30,000 labels). With --labels N,... the label-budget
    protocol, 'benchmark labels'. Progress shows every step with the time left for the
    whole benchmark.
    """
    from mnist_vae.data import load_mnist
    from mnist_vae.errors import UsageError
    from mnist_vae.experiments import run_benchmark
    from mnist_vae.experiments.augment import check_given_runs

    controls = taken_record(BenchmarkControls, values)
    if values["labels"] is not None:
        unused = [name for name in HALVES_ONLY if values.get(name) is not None]
        if unused:
            flag = "--" + unused[0].replace("_", "-")
            raise UsageError(
                f"{flag} belongs to the report's protocol; with --labels every "
                "method gets the same labelled images (see docs/benchmarks.md)"
            )
        run_labels(values, controls, note=ALIAS_NOTE)
        return
    alias_only = [name for name in ALIAS_HIDDEN if values.get(name) is not None]
    if alias_only:  # the label-budget protocol's flags do nothing without --labels
        flag = "--" + alias_only[0].replace("_", "-")
        raise UsageError(f"{flag} belongs to 'benchmark labels'; pass --labels N,... or drop it")
    config = AugmentConfig(**given_settings(AugmentConfig, values))
    check_given_runs(config)
    results, out = run_benchmark_command(
        "augment", run_benchmark, config, load_mnist, controls, report=say
    )
    print_table(augment_table(results))
    click.echo(f"wrote {out}/results.json, results.csv and accuracy.png")


@benchmark.command(context_settings={"show_default": True})
@config_options(config_flag_specs(NllConfig))
@benchmark_options("nll", "results.json, nll.png and the trained runs")
@handle_errors
def nll(quiet: bool, **values) -> None:
    """Test-set negative log-likelihood by importance sampling, beside the papers' figures.

    Trains each strategy with the same networks and budget (default: the IWAE paper's
    MLP, latent 50, on dynamically binarized MNIST), or measures given runs.
    """
    from mnist_vae.data import load_mnist
    from mnist_vae.experiments.nll import run_nll_benchmark

    controls = taken_record(BenchmarkControls, values)
    config = NllConfig(**given_settings(NllConfig, values))
    for name in config.strategies:  # every option and value checked before any training
        config.run_config(name)
    results, out = run_benchmark_command(
        "nll", run_nll_benchmark, config, load_mnist, controls, report=say
    )
    _print_nll_table(results)
    click.echo(f"wrote {out}/results.json and nll.png")


def _print_nll_table(results: dict) -> None:
    """The table, then where its paper column's figures come from."""
    from rich.console import Console

    console = Console()
    console.print(nll_table(results))
    for line in nll_spread_lines(results):
        console.print(f"  spread, {line}", highlight=False)
    for source in nll_sources(results):
        console.print(f"  paper, {source}", highlight=False)


@benchmark.command()
@request_options(MergeRequest)
@debug_option
@handle_errors
def merge(**options) -> None:
    """Merge label-budget results run apart (other seeds or methods) into one table.

    RESULTS are results.json files or the folders holding them, e.g. one per seed run
    side by side; together they must cover every seed, budget and method of their union.
    Each is checked before anything is written (one experiment: the same protocol, data
    and settings; finite accuracies), and --out may not hold any of them.
    """
    from mnist_vae.experiments.label_budget import merge_results
    from mnist_vae.experiments.merge_inputs import read_merge_inputs

    request = MergeRequest(**options)
    parts, paths = read_merge_inputs(request.results, request.out, overwrite=request.overwrite)
    names = [str(path) for path in paths]
    merged = merge_results(parts, request.out, overwrite=request.overwrite, names=names)
    print_table(label_budget_table(merged))
    click.echo(f"wrote {request.out}/results.json, results.csv and error.png")
