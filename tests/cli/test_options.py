"""Strategy options are declared once (on their dataclass) and checked by type."""

from __future__ import annotations

import ast
import dataclasses

import click
import pytest
from click.testing import CliRunner

from mnist_vae.cli.main import cli
from mnist_vae.cli.options import strategy_options
from mnist_vae.config import StrategyOptions
from mnist_vae.declarations import option
from mnist_vae.errors import UsageError
from mnist_vae.models import build_model, model_config, with_options
from mnist_vae.registry import strategies
from mnist_vae.settings import builtin_strategy_options
from mnist_vae.zoo.strategies.vaegan import VAEGAN, VaeGanOptions
from tests.helpers import ROOT, assert_one_line_error, invoke, never_called

CLI = ROOT / "cli"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"balance": "no"}, "--balance must be true or false, got 'no'"),
        ({"feature_layer": 1.5}, "--feature-layer must be a whole number, got 1.5"),
        ({"feature_layer": True}, "--feature-layer must be a whole number, got True"),
        ({"feature_layer": 0}, "--feature-layer must be >= 1, got 0"),
        ({"feature_variance": 0}, "--feature-variance must be > 0, got 0.0"),
        ({"gamma": float("nan")}, "--gamma must be a finite number"),
        ({"discriminator": 3}, "--discriminator must be text, got 3"),
        ({"discriminator": "dcgann"}, "did you mean 'dcgan'"),
    ],
)
def test_option_values_are_type_checked(values, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        VaeGanOptions(**values)


def test_numbers_are_converted_to_the_declared_type():
    assert VaeGanOptions(gamma=1).gamma == 1.0 and isinstance(VaeGanOptions(gamma=1).gamma, float)


def test_option_from_the_cli_is_type_checked_before_any_work(tmp_path):
    result = CliRunner().invoke(
        cli,
        ["train", "--strategy", "vaegan", "--option", "balance=no", "--out", str(tmp_path / "run")],
    )
    assert result.exit_code == 2
    assert "--balance must be true or false, got 'no'" in result.output
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--flow-steps", "8"], ["--flow-steps takes effect only with --posterior iaf"]),
        (["--posterior", "gaussian", "--flow-hidden", "8"], ["--flow-hidden", "--posterior iaf"]),
        (["--strategy", "iwae", "--option", "flow_steps=2"], ["--flow-steps", "--posterior iaf"]),
        (["--capacity-epochs", "5"], ["--capacity-epochs takes effect only with --capacity > 0"]),
        (["--capacity", "0", "--capacity-weight", "5"], ["--capacity-weight", "--capacity > 0"]),
        (["--capacity", "5", "--beta", "4"], ["--beta 4 does nothing under --capacity"]),
        (
            ["--strategy", "vaegan", "--no-balance", "--margin", "0.1"],
            ["--margin takes effect only with --balance"],
        ),
        (["--strategy", "vaegan", "--no-balance", "--equilibrium", "0.5"], ["--equilibrium"]),
        (
            ["--strategy", "m2", "--labelled-per-batch", "20"],
            ["--labelled-per-batch takes effect only with --labels"],
        ),
        (["--gaussian-variance", "0.1"], ["--gaussian-variance", "--likelihood gaussian"]),
        (["--strategy", "vaegan", "--equilibrium", "-1"], ["--equilibrium", "-1"]),
    ],
)
def test_an_option_that_would_do_nothing_is_a_usage_error(tmp_path, args, fragments, monkeypatch):
    """Used to be recorded in config.json and trained without any effect."""
    import mnist_vae.training

    monkeypatch.setattr(mnist_vae.training, "train", never_called)
    result = invoke("train", *args, "--out", tmp_path / "run")
    assert_one_line_error(result, 2, *fragments)
    assert not (tmp_path / "run").exists()


def test_a_threshold_beside_a_frozen_classifier_is_a_usage_error(tmp_path, monkeypatch):
    import mnist_vae.training

    monkeypatch.setattr(mnist_vae.training, "train", never_called)
    weights = tmp_path / "lenet.weights.h5"
    weights.write_bytes(b"")
    args = ("--strategy", "classifier", "--classifier-weights", weights)
    result = invoke("train", *args, "--recon-threshold", "0.05", "--out", tmp_path / "run")
    assert_one_line_error(result, 2, "--recon-threshold takes effect only", "--classifier-weights")
    assert not (tmp_path / "run").exists()


def test_a_config_files_option_that_would_do_nothing_is_refused(tmp_path, monkeypatch):
    import mnist_vae.training

    monkeypatch.setattr(mnist_vae.training, "train", never_called)
    config_file = tmp_path / "c.toml"
    config_file.write_text("[model]\noptions = { flow_steps = 8 }\n")
    result = invoke("train", "--config", config_file, "--out", tmp_path / "run")
    assert_one_line_error(result, 2, "--flow-steps takes effect only with --posterior iaf")


def test_an_option_with_what_it_needs_is_accepted():
    from mnist_vae.zoo.strategies.m2 import M2Options
    from mnist_vae.zoo.strategies.vae import VaeOptions

    VaeOptions(posterior="iaf", flow_steps=2).check_given({"posterior", "flow_steps"}, {})
    VaeOptions(capacity=5.0, capacity_epochs=3).check_given(
        {"capacity", "capacity_epochs"}, {"beta": 1.0}
    )
    VaeGanOptions(margin=0.1).check_given({"margin"}, {})  # --balance is the default
    M2Options(labelled_per_batch=20).check_given({"labelled_per_batch"}, {"labels": 100})
    # Not given: a default that does nothing is no mistake of the user's.
    VaeOptions().check_given(set(), {"beta": 2.0})


def test_train_help_says_what_an_option_needs():
    result = CliRunner().invoke(cli, ["train", "--help"], terminal_width=200)
    text = " ".join(result.output.split())
    assert "Inverse autoregressive flow steps. Only with --posterior iaf." in text
    assert "Gating margin around the equilibrium. Only with --balance." in text
    assert "under capacity annealing. Only with --capacity > 0." in text


def test_a_vaegan_built_from_python_has_the_cli_defaults():
    from_cli = build_model(model_config("net1", strategy="vaegan"))
    encoder, decoder = from_cli.encoder, from_cli.decoder
    direct = VAEGAN(encoder, decoder, from_cli.discriminator, latent_dim=2)
    assert direct.options == from_cli.options == VaeGanOptions()
    assert (direct.options.feature_layer, direct.options.gamma) == (1, 0.1)


def test_train_help_lists_every_built_in_option_with_its_help():
    result = CliRunner().invoke(cli, ["train", "--help"], terminal_width=200)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for name, owners in builtin_strategy_options().items():
        _, spec, _ = owners[0]
        assert "--" + name.replace("_", "-") in text, name
        assert " ".join(spec.metadata["help"].split()) in text, name


def test_a_new_strategy_file_in_the_zoo_gets_its_flag_without_a_cli_edit(monkeypatch):
    # The flag comes from the index (mnist_vae/zoo/index.json), which `make docs` writes
    # from the registries (tests/ground/test_registry_index.py fails until it is rewritten).
    from mnist_vae import registry_index

    @dataclasses.dataclass(frozen=True)
    class RampOptions(StrategyOptions):
        ramp_steps: int = option(10, "Steps of the ramp.", minimum=1)

    @with_options(RampOptions)
    def ramp(config, options, context, seed):
        """A strategy that exists only in this test."""

    ramp.__module__ = "mnist_vae.zoo.strategies.ramp"  # as if it were zoo/strategies/ramp.py
    with strategies.temporary(ramp):
        rewritten = registry_index.live_index()
    monkeypatch.setattr(registry_index, "load_index", lambda: rewritten)
    command = strategy_options(click.command()(lambda **values: values))
    flags = {opt for param in command.params for opt in param.opts}
    assert "--ramp-steps" in flags
    ramp_param = next(p for p in command.params if "--ramp-steps" in p.opts)
    assert isinstance(ramp_param.type, click.IntRange) and ramp_param.type.min == 1


# -- benchmark flags: generated from the benchmarks' config records -------------------

COMMON_BENCHMARK_FLAGS = {"out", "overwrite", "restart", "data", "quiet", "debug"}


def benchmark_commands() -> list[tuple[click.Command, type, set[str]]]:
    """(command, its config record, the flags it has beyond the record and the common)."""
    from mnist_vae.cli.benchmark import ALIAS_HIDDEN, augment, labels, nll
    from mnist_vae.experiments.augment import AugmentConfig
    from mnist_vae.experiments.label_budget import LabelBudgetConfig
    from mnist_vae.experiments.nll import NllConfig

    return [
        (augment, AugmentConfig, {"labels", *ALIAS_HIDDEN}),
        (labels, LabelBudgetConfig, set()),
        (nll, NllConfig, set()),
    ]


def parsed(command: click.Command, args: list[str]) -> dict:
    """``command``'s parameters from ``args``, its context closed after parsing: closing
    runs what the options' callbacks left to do then (``--quiet`` restores the progress
    settings it configured, which later tests in this process read)."""
    with command.make_context(command.name, args) as ctx:
        return ctx.params


@pytest.mark.parametrize("index", range(3))
def test_benchmark_flags_are_their_config_records_fields(index):
    command, record, extra = benchmark_commands()[index]
    params = {param.name: param for param in command.params}
    declared = [spec for spec in dataclasses.fields(record) if "help" in spec.metadata]
    assert set(params) == {spec.name for spec in declared} | COMMON_BENCHMARK_FLAGS | extra
    ctx = click.Context(command)
    for spec in declared:
        param = params[spec.name]
        flag = "--" + (spec.metadata["flag"] or spec.name).replace("_", "-")
        assert param.opts == [flag], spec.name
        assert param.default is None  # not given: the record's own default applies
        assert param.help.startswith(spec.metadata["help"]), spec.name
        assert param.get_help_record(ctx) is not None or spec.name in extra
        default = spec.default if spec.default is not dataclasses.MISSING else None
        if default is None or default is False or default == ():
            assert "[default: " not in param.help, spec.name
            continue
        # The default the help shows, typed back, is the record's own.
        written = param.help.rpartition("[default: ")[2].removesuffix("]")
        typed = parsed(command, [flag, written])[spec.name]
        assert typed == default, (spec.name, written)


@pytest.mark.parametrize("index", range(3))
def test_a_benchmark_without_flags_runs_its_records_defaults(index, monkeypatch):
    command, record, _ = benchmark_commands()[index]
    from mnist_vae.settings import given_settings

    params = parsed(command, [])
    assert given_settings(record, params) == {}
    assert record(**given_settings(record, params)) == record()


def test_benchmark_flags_convert_to_the_records_values():
    from mnist_vae.cli.benchmark import nll
    from mnist_vae.experiments.nll import NllConfig
    from mnist_vae.settings import given_settings

    args = [
        "--strategies",
        "vae,iwae",
        "--run",
        ".",
        "--run",
        ".",
        "--lr",
        "0.01",
        "--option",
        "iw_samples=7",
        "--quick",
    ]
    given = given_settings(NllConfig, parsed(nll, args))
    assert given == {
        "strategies": ("vae", "iwae"),
        "runs": (".", "."),
        "learning_rate": 0.01,
        "options": {"iw_samples": 7},
        "quick": True,
    }


# -- the other commands' flags: generated from their request records -----------------

# cli module -> the records whose fields are its arguments and flags.
REQUESTS = {
    "sample.py": ["mnist_vae.training.drawing:SampleRequest"],
    "evaluate.py": ["mnist_vae.evaluation.run_evaluation:EvaluationRequest"],
    "export.py": ["mnist_vae.export.writer:ExportRequest"],
    "compare.py": ["mnist_vae.evaluation.comparison:CompareRequest"],
    "clean.py": ["mnist_vae.io.stale:CleanRequest"],
    "pretrained.py": ["mnist_vae.runs.pretrained:PretrainedRequest"],
    "train.py": ["mnist_vae.training.run_settings:RunControls"],
    "benchmark.py": [
        "mnist_vae.experiments.merge_inputs:MergeRequest",
        "mnist_vae.experiments.skeleton:BenchmarkControls",
    ],
    "benchmark_labels.py": ["mnist_vae.experiments.skeleton:BenchmarkControls"],
}
# (command, its request record), each record with the command made from it.
REQUEST_COMMANDS = [
    ("sample", "mnist_vae.training.drawing:SampleRequest"),
    ("evaluate", "mnist_vae.evaluation.run_evaluation:EvaluationRequest"),
    ("export", "mnist_vae.export.writer:ExportRequest"),
    ("compare", "mnist_vae.evaluation.comparison:CompareRequest"),
    ("clean", "mnist_vae.io.stale:CleanRequest"),
    ("pretrained", "mnist_vae.runs.pretrained:PretrainedRequest"),
    ("train", "mnist_vae.training.run_settings:RunControls"),
    ("benchmark merge", "mnist_vae.experiments.merge_inputs:MergeRequest"),
    ("benchmark labels", "mnist_vae.experiments.skeleton:BenchmarkControls"),
]


def record_named(path: str) -> type:
    import importlib

    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def command_named(path: str) -> click.Command:
    command = cli
    for name in path.split():
        command = command.get_command(click.Context(command), name)
    return command


def request_flag(spec: dataclasses.Field) -> str:
    return "--" + (spec.metadata["flag"] or spec.name).replace("_", "-")


@pytest.mark.parametrize(("name", "record"), REQUEST_COMMANDS)
def test_a_commands_flags_are_its_request_records_fields(name, record):
    command = command_named(name)
    params = {param.name: param for param in command.params}
    for spec in dataclasses.fields(record_named(record)):
        meta, param = spec.metadata, params[spec.name]
        required = spec.default is dataclasses.MISSING
        assert param.required == required, spec.name
        if meta["argument"]:
            assert isinstance(param, click.Argument), spec.name
            continue
        assert param.opts == [request_flag(spec)], spec.name
        if spec.name != "out" or "benchmark" not in name:  # --out names each one's files
            assert param.help == meta["help"], spec.name
        assert param.is_flag == meta["switch"], spec.name
        if meta["flag_value"]:  # given plain: flag_value; left out: the default
            assert (param.default, param.flag_value) == (None, meta["flag_value"])
            assert param.process_value(click.Context(command), None) == spec.default
        elif not required:
            assert param.default == spec.default, spec.name


def hand_written(source: str, records: list[type]) -> list[str]:
    """Where ``source`` declares a field of ``records`` again: a click option or argument
    of its flag or name."""
    words = {request_flag(spec) for kind in records for spec in dataclasses.fields(kind)}
    words |= {spec.name for kind in records for spec in dataclasses.fields(kind)}
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in ("option", "argument"):
            continue
        given = {arg.value for arg in node.args if isinstance(arg, ast.Constant)}
        found += [f"line {node.lineno}: {word}" for word in sorted(given & words)]
    return found


@pytest.mark.parametrize("module", sorted(REQUESTS))
def test_no_request_field_is_declared_again_in_its_command(module):
    """The setting would have two declarations to keep in step."""
    records = [record_named(path) for path in REQUESTS[module]]
    assert hand_written((CLI / module).read_text(), records) == []


@pytest.mark.parametrize(
    "added",
    [
        '@click.option("--count", type=int, default=100)',
        '@click.option("--noise-variance", "noise_variance", default=0.1)',
        '@click.argument("run", required=False)',
    ],
)
def test_a_request_field_declared_again_is_caught(added):
    source = (CLI / "sample.py").read_text()
    assert "@request_options(SampleRequest)\n" in source
    source = source.replace(
        "@request_options(SampleRequest)\n", f"@request_options(SampleRequest)\n{added}\n"
    )
    assert hand_written(source, [record_named(REQUESTS["sample.py"][0])])


@pytest.mark.parametrize(
    ("args", "flag"), [(["export", "some-run"], "--out"), (["benchmark", "merge", "."], "--out")]
)
def test_a_required_request_flag_left_out_is_a_usage_error(args, flag):
    assert_one_line_error(invoke(*args), 2, f"Missing option '{flag}'")
