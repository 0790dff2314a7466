"""Registries: registration, lookup errors, lazy plugin loading, and the real entry points."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
import types
import warnings
from pathlib import Path

import pytest

import mnist_vae
from mnist_vae import registry as registry_module
from mnist_vae.errors import UnknownNameError, UsageError
from mnist_vae.registry import PLUGIN_GROUP, PluginLoader, PluginWarning, Registry

# ---------------------------------------------------------------------------
# A fresh registry without a loader


@pytest.fixture
def widgets() -> Registry:
    return Registry("widget")


def test_register_as_decorator_uses_function_name(widgets):
    @widgets.register
    def gear():
        """A gear."""

    assert widgets.get("gear") is gear  # the decorator returns the function unchanged
    assert widgets.names() == ["gear"]


def test_register_with_explicit_name(widgets):
    def builder():
        return 1

    assert widgets.register(builder, name="sprocket") is builder
    assert widgets.get("sprocket") is builder
    assert "builder" not in widgets


def test_register_decorator_factory_with_name(widgets):
    @widgets.register(name="cog")
    def whatever():
        return 2

    assert widgets.get("cog") is whatever
    assert widgets.names() == ["cog"]


def test_duplicate_name_raises_and_keeps_original(widgets):
    def first():
        return 1

    def second():
        return 2

    widgets.register(first, name="part")
    with pytest.raises(ValueError, match=r"already registered.*override=True"):
        widgets.register(second, name="part")
    assert widgets.get("part") is first


def test_duplicate_via_decorator_raises(widgets):
    @widgets.register
    def part():
        return 1

    with pytest.raises(ValueError, match="'part'"):

        @widgets.register
        def part():
            return 2


def test_override_replaces(widgets):
    def first():
        return 1

    def second():
        return 2

    widgets.register(first, name="part")
    assert widgets.register(second, name="part", override=True) is second
    assert widgets.get("part") is second
    assert len(widgets) == 1


@pytest.mark.parametrize("bad", ["my-net", "1net", "two words", "dot.ted", "net!"])
def test_non_identifier_name_rejected(widgets, bad):
    with pytest.raises(ValueError, match="valid identifier"):
        widgets.register(lambda: None, name=bad)
    assert bad not in widgets
    assert len(widgets) == 0


def test_lambda_without_name_rejected(widgets):
    with pytest.raises(ValueError, match="valid identifier"):
        widgets.register(lambda: None)
    assert widgets.names() == []


def _fill(widgets: Registry, *names: str) -> None:
    for name in names:
        widgets.register(lambda: None, name=name)


def test_get_unknown_raises_unknown_name_error(widgets):
    _fill(widgets, "net1", "net2", "zeta")
    with pytest.raises(UnknownNameError) as info:
        widgets.get("nett1")
    error = info.value
    assert isinstance(error, UsageError)
    assert isinstance(error, LookupError)
    assert isinstance(error, ValueError)
    message = str(error)
    assert "\n" not in message
    assert message.startswith("unknown widget 'nett1'")
    assert "did you mean 'net1'?" in message
    assert "'net2'" not in message.split("(registered")[0]  # only the close match is offered
    assert "(registered: net1, net2, zeta)" in message


def test_get_unknown_without_close_match_has_no_suggestion(widgets):
    _fill(widgets, "net1", "net2")
    with pytest.raises(UnknownNameError) as info:
        widgets.get("xyzzy")
    message = str(info.value)
    assert "did you mean" not in message
    assert "registered: net1, net2" in message
    assert "\n" not in message


def test_get_unknown_in_empty_registry(widgets):
    with pytest.raises(UnknownNameError, match=r"no widget is registered"):
        widgets.get("anything")


def test_unknown_name_with_newline_stays_one_line(widgets):
    _fill(widgets, "net1")
    with pytest.raises(UnknownNameError) as info:
        widgets.get("net1\nnet2")
    assert "\n" not in str(info.value)


def test_check_returns_name_or_raises(widgets):
    _fill(widgets, "net1")
    assert widgets.check("net1") == "net1"
    with pytest.raises(UnknownNameError, match="did you mean 'net1'"):
        widgets.check("nett1")


def test_names_sorted(widgets):
    _fill(widgets, "zeta", "alpha", "Mid", "beta")
    assert widgets.names() == ["Mid", "alpha", "beta", "zeta"]


def test_summary_is_the_first_docstring_paragraph_on_one_line(widgets):
    @widgets.register
    def documented():
        """First line here.

        More detail that must not appear.
        """

    @widgets.register
    def wrapped():
        """A first sentence that runs on
        to a second line.

        More detail.
        """

    @widgets.register
    def undocumented():
        return None

    assert widgets.summary("documented") == "First line here."
    assert widgets.summary("wrapped") == "A first sentence that runs on to a second line."
    assert widgets.summary("undocumented") == ""
    with pytest.raises(UnknownNameError):
        widgets.summary("missing")


def test_contains_len_iter(widgets):
    assert len(widgets) == 0
    assert list(widgets) == []
    _fill(widgets, "b", "a", "c")
    assert "a" in widgets
    assert "d" not in widgets
    assert 42 not in widgets
    assert len(widgets) == 3
    assert list(widgets) == ["a", "b", "c"]
    assert "3 entries" in repr(widgets)


# ---------------------------------------------------------------------------
# Registry.temporary: a registration for one block


def test_temporary_registers_for_the_block_and_removes_a_new_entry(widgets):
    def gear():
        """A temporary gear."""

    _fill(widgets, "kept")
    with widgets.temporary(gear) as registered:  # named after the function by default
        assert registered is gear
        assert widgets.get("gear") is gear
        assert widgets.names() == ["gear", "kept"]
    assert "gear" not in widgets
    assert widgets.names() == ["kept"]


def test_temporary_restores_a_previous_entry(widgets):
    def original():
        return 1

    def replacement():
        return 2

    widgets.register(original, name="part")
    with widgets.temporary(replacement, name="part"):
        assert widgets.get("part") is replacement
        assert len(widgets) == 1
    assert widgets.get("part") is original
    assert widgets.names() == ["part"]


def test_temporary_cleans_up_after_an_exception(widgets):
    def original():
        return 1

    def replacement():
        return 2

    def gear():
        return 3

    widgets.register(original, name="part")
    with (
        pytest.raises(RuntimeError, match="boom"),
        widgets.temporary(replacement, name="part"),
        widgets.temporary(gear),
    ):
        assert widgets.names() == ["gear", "part"]
        raise RuntimeError("boom")
    assert widgets.get("part") is original
    assert "gear" not in widgets
    assert widgets.names() == ["part"]


def test_temporary_nests(widgets):
    def outer():
        return 1

    def inner():
        return 2

    with widgets.temporary(outer, name="part"):
        with widgets.temporary(inner, name="part"):
            assert widgets.get("part") is inner
        assert widgets.get("part") is outer
    assert "part" not in widgets


def test_temporary_rejects_a_bad_name_and_changes_nothing(widgets):
    _fill(widgets, "kept")
    with pytest.raises(ValueError, match="valid identifier"), widgets.temporary(lambda: None):
        pytest.fail("the block must not run")
    assert widgets.names() == ["kept"]


def test_temporary_loads_plugins_first_and_restores_theirs(monkeypatch):
    """A plugin's entry shadowed before anything loaded still comes back afterwards."""
    loader = PluginLoader()
    widgets = Registry("widget", loader)
    _install(monkeypatch, [_module_plugin(widgets, "from_module")])

    def stand_in():
        return 0

    with widgets.temporary(stand_in, name="from_module"):
        assert loader.loaded
        assert widgets.get("from_module") is stand_in
    plugin_builder = widgets.get("from_module")
    assert plugin_builder is not stand_in
    assert widgets.summary("from_module") == "Registered by a module plugin."
    assert widgets.names() == ["from_module"]


# ---------------------------------------------------------------------------
# PluginLoader with fake entry points


class FakeEntryPoint:
    """What ``importlib.metadata.entry_points`` yields: ``.name``, ``.value``, ``.load()``."""

    def __init__(self, name: str, load) -> None:
        self.name = name
        self.value = f"fake_{name}_pkg.plugin"
        self._load = load
        self.loads = 0

    def load(self):
        self.loads += 1
        return self._load()


class FakeEntryPoints:
    """Stands in for ``importlib.metadata.entry_points`` and counts its calls."""

    def __init__(self, points: list[FakeEntryPoint]) -> None:
        self.points = points
        self.calls: list[dict] = []

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        return list(self.points) if kwargs.get("group") == PLUGIN_GROUP else []


def _install(monkeypatch, points: list[FakeEntryPoint]) -> FakeEntryPoints:
    fake = FakeEntryPoints(points)
    monkeypatch.setattr(registry_module.importlib.metadata, "entry_points", fake)
    return fake


def _module_plugin(widgets: Registry, name: str) -> FakeEntryPoint:
    """A plugin that is a module registering on import (load() runs the import)."""

    def load():
        def builder():
            """Registered by a module plugin."""

        widgets.register(builder, name=name)
        return types.ModuleType(f"fake_{name}_pkg.plugin")

    return FakeEntryPoint(f"{name}_plugin", load)


def _callable_plugin(widgets: Registry, name: str, calls: list[str]) -> FakeEntryPoint:
    """A plugin that is a hook function: nothing registers until the hook is called."""

    def hook():
        calls.append(name)
        widgets.register(lambda: None, name=name)

    return FakeEntryPoint(f"{name}_plugin", lambda: hook)


def _lookups():
    return {
        "names": lambda r: r.names(),
        "get": lambda r: r.get("from_module"),
        "check": lambda r: r.check("from_module"),
        "summary": lambda r: r.summary("from_module"),
        "contains": lambda r: "from_module" in r,
        "len": len,
        "iter": list,
    }


@pytest.mark.parametrize("lookup", list(_lookups()))
def test_nothing_loads_until_first_lookup(monkeypatch, lookup):
    loader = PluginLoader()
    widgets = Registry("widget", loader)
    plugin = _module_plugin(widgets, "from_module")
    fake = _install(monkeypatch, [plugin])

    @widgets.register  # registering is not a lookup
    def local():
        return None

    repr(widgets)
    assert fake.calls == []
    assert plugin.loads == 0
    assert not loader.loaded

    _lookups()[lookup](widgets)

    assert loader.loaded
    assert fake.calls == [{"group": PLUGIN_GROUP}]
    assert plugin.loads == 1
    assert widgets.names() == ["from_module", "local"]


def test_module_plugin_registers_and_callable_plugin_is_called(monkeypatch):
    loader = PluginLoader()
    widgets = Registry("widget", loader)
    calls: list[str] = []
    _install(
        monkeypatch,
        [_module_plugin(widgets, "from_module"), _callable_plugin(widgets, "from_hook", calls)],
    )
    assert calls == []
    assert widgets.names() == ["from_hook", "from_module"]
    assert calls == ["from_hook"]
    assert widgets.summary("from_module") == "Registered by a module plugin."
    assert loader.failures == {}


def test_module_object_is_not_called(monkeypatch):
    """A loaded module is a plugin that registered on import; it must not be called."""

    class CallableModule(types.ModuleType):
        called = False

        def __call__(self):
            type(self).called = True

    loader = PluginLoader()
    widgets = Registry("widget", loader)
    _install(monkeypatch, [FakeEntryPoint("mod", lambda: CallableModule("fake_mod"))])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        widgets.names()
    assert CallableModule.called is False
    assert loader.failures == {}


def test_broken_plugins_warn_and_do_not_stop_good_ones(monkeypatch):
    loader = PluginLoader()
    widgets = Registry("widget", loader)
    calls: list[str] = []

    def broken_import():
        raise ImportError("No module named 'missing_dependency'")

    def hook_that_raises():
        raise RuntimeError("hook exploded")

    bad_import = FakeEntryPoint("bad_import", broken_import)
    bad_hook = FakeEntryPoint("bad_hook", lambda: hook_that_raises)
    _install(
        monkeypatch,
        [
            bad_import,
            _module_plugin(widgets, "from_module"),
            bad_hook,
            _callable_plugin(widgets, "from_hook", calls),
        ],
    )

    with pytest.warns(PluginWarning) as record:
        names = widgets.names()

    assert names == ["from_hook", "from_module"]
    assert calls == ["from_hook"]
    messages = [str(w.message) for w in record if issubclass(w.category, PluginWarning)]
    assert len(messages) == 2
    assert "'bad_import'" in messages[0]
    assert bad_import.value in messages[0]
    assert "ImportError" in messages[0]
    assert "missing_dependency" in messages[0]
    assert "'bad_hook'" in messages[1]
    assert "RuntimeError: hook exploded" in messages[1]
    assert set(loader.failures) == {"bad_import", "bad_hook"}
    assert loader.failures["bad_import"].startswith("ImportError")
    assert loader.failures["bad_hook"] == "RuntimeError: hook exploded"
    assert issubclass(PluginWarning, UserWarning)


def test_loading_happens_once_across_registries(monkeypatch):
    loader = PluginLoader()
    widgets = Registry("widget", loader)
    gadgets = Registry("gadget", loader)
    calls: list[str] = []
    module_plugin = _module_plugin(widgets, "from_module")

    def broken_import():
        raise ImportError("nope")

    bad = FakeEntryPoint("bad", broken_import)
    hook_plugin = _callable_plugin(gadgets, "from_hook", calls)
    fake = _install(monkeypatch, [module_plugin, hook_plugin, bad])

    with pytest.warns(PluginWarning):
        widgets.names()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second load would warn (and re-register) again
        for _ in range(3):
            widgets.names()
            gadgets.names()
            assert "from_module" in widgets
            assert len(gadgets) == 1
            gadgets.get("from_hook")
    assert len(fake.calls) == 1
    assert module_plugin.loads == 1
    assert bad.loads == 1
    assert calls == ["from_hook"]
    assert gadgets.names() == ["from_hook"]


def test_builtins_import_lazily_before_plugins(monkeypatch, tmp_path):
    """Built-in modules import on first need and may look names up while they register."""
    builtin = "mnist_vae_test_builtin_widgets"
    loader = PluginLoader(builtins=(builtin,))
    widgets = Registry("widget", loader)
    hooks = types.ModuleType("mnist_vae_test_widget_hooks")
    hooks.widgets = widgets
    hooks.seen = None
    monkeypatch.setitem(sys.modules, hooks.__name__, hooks)
    (tmp_path / f"{builtin}.py").write_text(
        textwrap.dedent(
            f"""
            import {hooks.__name__} as hooks

            hooks.seen = hooks.widgets.names()  # a lookup while loading must not recurse

            @hooks.widgets.register
            def builtin_widget():
                '''Shipped with the package.'''
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, builtin, raising=False)

    order: list[str] = []

    def plugin_load():  # a plugin may look names up too: loading is not re-entered
        order.append("plugin sees " + ",".join(widgets.names()))
        return types.ModuleType("fake")

    _install(monkeypatch, [FakeEntryPoint("late", plugin_load)])
    assert builtin not in sys.modules

    try:
        assert widgets.names() == ["builtin_widget"]
        assert builtin in sys.modules
        assert hooks.seen == []
        assert order == ["plugin sees builtin_widget"]
    finally:
        sys.modules.pop(builtin, None)


# ---------------------------------------------------------------------------
# The real entry-point mechanism, in a fresh interpreter

BUILTIN_ENCODERS = {"net1", "net3", "net4", "resconv"}
LIST_CODE = "import mnist_vae; print(mnist_vae.encoders.names()); print(mnist_vae.decoders.names())"


def _fake_distribution(site: Path, name: str, entry_points: str, module: str) -> None:
    info = site / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    # The group name is the public contract with plugin authors: spell it out.
    (info / "entry_points.txt").write_text(f"[mnist_vae.plugins]\n{entry_points}\n")
    (site / f"{name}.py").write_text(textwrap.dedent(module))


def _add_demo_plugin(site: Path) -> None:
    _fake_distribution(
        site,
        "demo_plugin",
        "demo = demo_plugin\ndemo_hook = demo_plugin:register_decoder",
        """
        from mnist_vae.registry import decoders, encoders


        @encoders.register
        def demo_encoder(latent_dim):
            '''An encoder from a third-party distribution.'''
            raise NotImplementedError


        def register_decoder():
            @decoders.register
            def demo_decoder(latent_dim):
                '''A decoder registered by an entry-point hook.'''
                raise NotImplementedError
        """,
    )


def _run_python(code: str, cwd: Path, pythonpath: Path | None = None):
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)  # Python's default: warnings are shown once
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(pythonpath), env.get("PYTHONPATH", "")) if p
        )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_entry_point_plugins_load_and_a_broken_one_warns_and_is_skipped(tmp_path):
    """One fresh interpreter with two installed distributions: a good plugin (a module
    entry point and a hook) and one whose import raises. The good one's names are listed
    without a warning; the broken one gives one warning naming it, and nothing else."""
    site = tmp_path / "site"
    site.mkdir()
    _add_demo_plugin(site)
    _fake_distribution(
        site,
        "broken_plugin",
        "broken = broken_plugin",
        """
        raise RuntimeError("broken_plugin exploded while importing")
        """,
    )
    result = _run_python(LIST_CODE, cwd=tmp_path, pythonpath=site)
    assert result.returncode == 0, result.stderr
    encoder_line, decoder_line = result.stdout.strip().splitlines()[-2:]
    encoder_names = ast.literal_eval(encoder_line)
    decoder_names = ast.literal_eval(decoder_line)
    assert "demo_encoder" in encoder_names  # the good plugin loads despite the broken one
    assert set(encoder_names) >= BUILTIN_ENCODERS
    assert encoder_names == sorted(encoder_names)
    assert "demo_decoder" in decoder_names  # its hook was called
    assert "net1" in decoder_names
    warnings = [line for line in result.stderr.splitlines() if "PluginWarning" in line]
    assert len(warnings) == 1, result.stderr  # the good plugin's entry points warn nothing
    assert "'broken'" in warnings[0] and "demo" not in warnings[0], result.stderr
    assert "broken_plugin exploded while importing" in result.stderr
    assert "Traceback" not in result.stderr


NO_TENSORFLOW_CODE = """
import json
import sys

HEAVY = {"tensorflow", "keras", "tensorflow_datasets", "tf_keras"}


def heavy():
    return sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)


stages = {}
import mnist_vae

stages["import"] = heavy()

from click.testing import CliRunner

from mnist_vae.cli.main import cli

help_result = CliRunner().invoke(cli, ["--help"])
stages["cli --help"] = heavy()

from mnist_vae import registry

# With a plugin installed its names come from the registry (and so load Keras), by design.
plugins = registry.plugins_installed()
if plugins:
    registry.plugins_installed = lambda: False
helps = {}
for command in (["train"], ["sample"], ["evaluate"], ["benchmark", "nll"]):
    result = CliRunner().invoke(cli, [*command, "--help"], terminal_width=400)
    helps[" ".join(command)] = (result.exit_code, result.output)
    stages[" ".join(command) + " --help"] = heavy()


def complete(words):
    parts = words.split(" ")
    env = {"_MNIST_VAE_COMPLETE": "bash_complete", "COMP_WORDS": "mnist-vae " + words,
           "COMP_CWORD": str(len(parts))}
    result = CliRunner().invoke(cli, [], prog_name="mnist-vae", env=env)
    return [line.split(",", 1)[1] for line in result.output.splitlines()]


completions = {words: complete(words) for words in (
    "train --strategy ", "train --arch net", "sample run --sampler ",
    "benchmark nll --strategies vae,iw")}
stages["completion"] = heavy()
loaded_for_help = registry.is_loaded()

from mnist_vae.models import model_config

try:
    model_config("nett1")
except mnist_vae.UnknownNameError as error:
    unknown = str(error)
else:
    unknown = None
config = model_config("net1", latent_dim=4)
print(json.dumps({
    "stages": stages,
    "plugins": plugins,
    "loaded_for_help": loaded_for_help,
    "helps": helps,
    "completions": completions,
    "architectures": mnist_vae.architectures.names(),
    "unknown": unknown,
    "encoder": config.encoder,
    "help_exit": help_result.exit_code,
    "help": help_result.output,
}))
"""


def test_import_and_cli_help_do_not_import_tensorflow(tmp_path):
    # Listing names loads the zoo, whose strategies define Keras classes (and so
    # import TensorFlow); the package import, every --help and shell completion must
    # stay instant: the help and completion read the built-in names from the index
    # (mnist_vae/zoo/index.json). One fresh interpreter for all of them.
    result = _run_python(NO_TENSORFLOW_CODE, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["stages"] == {
        "import": [],
        "cli --help": [],
        "train --help": [],
        "sample --help": [],
        "evaluate --help": [],
        "benchmark nll --help": [],
        "completion": [],
    }
    assert not report["loaded_for_help"]
    strategies = mnist_vae.strategies.builtin_names()
    nets = [name for name in mnist_vae.architectures.builtin_names() if name.startswith("net")]
    for command, (exit_code, output) in report["helps"].items():
        assert exit_code == 0, (command, output)
        assert "Choices: " in output, command
    train_help = report["helps"]["train"][1]
    assert f"Choices: {', '.join(strategies)}." in train_help
    assert "--kl-warmup-epochs" in train_help  # a strategy's own flag
    assert report["completions"] == {
        "train --strategy ": strategies,
        "train --arch net": nets,
        "sample run --sampler ": mnist_vae.samplers.builtin_names(),
        "benchmark nll --strategies vae,iw": ["vae," + n for n in strategies if n.startswith("iw")],
    }
    assert report["architectures"] == sorted(mnist_vae.architectures.builtin_names())
    assert "did you mean 'net1'" in report["unknown"]
    assert report["encoder"] == "net1"
    assert report["help_exit"] == 0
    assert "Usage" in report["help"]
    assert "train" in report["help"]


# ---------------------------------------------------------------------------
# The built-in registries


def test_builtin_registry_contents():
    # The report's networks are all there (a new registration needs no edit here).
    assert {"mlp", "net1", "net2", "net3", "net4", "resconv"} <= set(
        mnist_vae.architectures.names()
    )
    assert "vae" in mnist_vae.strategies.names()
    assert mnist_vae.likelihoods.names() == ["bernoulli", "gaussian"]
    assert mnist_vae.optimizers.names() == ["adam", "sgdm"]
    assert set(registry_module.ALL_REGISTRIES) == {
        "architectures",
        "encoders",
        "decoders",
        "strategies",
        "likelihoods",
        "optimizers",
        "classifiers",
        "discriminators",
        "synthesis_methods",
        "samplers",
    }
    assert registry_module.ALL_REGISTRIES["architectures"] is mnist_vae.architectures
    assert mnist_vae.samplers.names() == ["gmm", "second_stage"]


def test_builtin_names_leave_out_what_a_plugin_registers():
    def plugin_net(latent_dim):
        """A plugin's encoder."""

    with mnist_vae.encoders.temporary(plugin_net, name="plugin_net"):
        assert "plugin_net" in mnist_vae.encoders.names()
        assert "plugin_net" not in mnist_vae.encoders.builtin_names()
    for registry in registry_module.ALL_REGISTRIES.values():
        assert registry.builtin_names() and set(registry.builtin_names()) <= set(registry.names())
    assert "vae" in mnist_vae.strategies.builtin_names()


def test_builtin_architectures_name_registered_networks():
    for name in mnist_vae.architectures.names():
        pair = mnist_vae.architectures.get(name)()
        assert pair.encoder in mnist_vae.encoders, (name, pair.encoder)
        assert pair.decoder in mnist_vae.decoders, (name, pair.decoder)


def test_every_builtin_has_a_summary():
    for kind, registry in registry_module.ALL_REGISTRIES.items():
        for name in registry.names():
            assert registry.summary(name), f"{kind} {name!r} has no docstring"


def test_model_config_unknown_architecture():
    from mnist_vae.models import model_config

    with pytest.raises(UnknownNameError) as info:
        model_config("nett1")
    message = str(info.value)
    assert "'net1'" in message
    assert "did you mean 'net1'?" in message
    assert "\n" not in message
    assert message.startswith("unknown architecture 'nett1'")


def test_model_config_unknown_encoder():
    from mnist_vae.models import model_config

    with pytest.raises(UnknownNameError, match=r"unknown encoder 'nett4'.*did you mean 'net4'"):
        model_config(None, encoder="nett4", decoder="net1")
