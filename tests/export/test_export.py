"""Exports serve without mnist-vae: checked in a process where it cannot be imported."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mnist_vae.cli.main import cli
from mnist_vae.export import export_run
from mnist_vae.models.sampling import sample_digits
from tests.helpers import tflite_interpreter

SERVER = Path(__file__).with_name("serve_export.py")


STRATEGIES = ("vae", "cvae")


@pytest.fixture(scope="module", params=STRATEGIES)
def trained(request, one_epoch_run):
    """conftest's one-epoch net1 run (shared with test_interop) and its model."""
    run = one_epoch_run(request.param)
    return run, run.load_model()


# Inputs for the exports' signatures; labels only for the conditional strategy.
_rng = np.random.default_rng(0)
IMAGES = _rng.random((5, 28, 28, 1)).astype("float32")
LABELS = np.array([0, 3, 5, 7, 9], "int32")
Z = _rng.standard_normal((5, 3)).astype("float32")

# serve_export.py once per (export, inputs, outputs): one interpreter, TensorFlow imported once.
SERVE_EACH = """
import runpy, sys
server, *paths = sys.argv[1:]
for start in range(0, len(paths), 3):
    sys.argv = [server, *paths[start:start + 3]]
    runpy.run_path(server, run_name="__main__")
"""


@pytest.fixture(scope="module")
def served(one_epoch_export, one_epoch_run, tmp_path_factory):
    """What serve_export.py's process (mnist_vae unimportable) got from each strategy's
    shared export: ``served[strategy]``, one process for all of them."""
    folder = tmp_path_factory.mktemp("served")
    paths = []
    for strategy in STRATEGIES:
        conditional = one_epoch_run(strategy).load_model().conditional
        given = {"images": IMAGES, "z": Z, **({"labels": LABELS} if conditional else {})}
        np.savez(folder / f"{strategy}-in.npz", **given)
        paths += [
            one_epoch_export(strategy),
            folder / f"{strategy}-in.npz",
            folder / f"{strategy}-out.npz",
        ]
    done = subprocess.run(
        [sys.executable, "-c", SERVE_EACH, str(SERVER), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return {strategy: np.load(folder / f"{strategy}-out.npz") for strategy in STRATEGIES}


def test_savedmodel_serves_identically_without_mnist_vae(trained, served, one_epoch_export):
    run, model = trained
    served = served[run.config.model.strategy]
    images, labels, z = IMAGES, LABELS, Z
    y = labels if model.conditional else None
    mean, log_variance = model.encode_distribution(images, y)
    np.testing.assert_allclose(served["mean"], mean, atol=1e-5)
    np.testing.assert_allclose(served["log_variance"], log_variance, atol=1e-5)
    np.testing.assert_allclose(served["decoded"], model.decode(z, y), atol=1e-5)
    np.testing.assert_allclose(served["reconstructed"], model.reconstruct(images, y), atol=1e-5)
    np.testing.assert_allclose(served["default"], served["reconstructed"], atol=1e-7)
    np.testing.assert_array_equal(served["sample_a"], served["sample_b"])
    assert not np.array_equal(served["sample_a"], served["sample_c"])
    assert served["sample_a"].shape == (5, 28, 28, 1)
    assert json.loads(str(served["config"]))["model"]["strategy"] == run.config.model.strategy
    assert (one_epoch_export(run.config.model.strategy) / "assets" / "metrics.json").exists()


def test_tflite_decode_matches_the_keras_decoder(trained, tmp_path):

    run, model = trained
    export_run(run, tmp_path / "lite", format="tflite")
    interpreter = tflite_interpreter(tmp_path / "lite")
    assert set(interpreter.get_signature_list()) == {"decode", "sample"}
    z = np.random.default_rng(1).standard_normal((4, 3)).astype("float32")
    labels = {"labels": np.array([1, 2, 3, 4], "int32")} if model.conditional else {}
    decoded = interpreter.get_signature_runner("decode")(z=z, **labels)["images"]
    np.testing.assert_allclose(decoded, model.decode(z, labels.get("labels")), atol=1e-4)
    sample = interpreter.get_signature_runner("sample")
    draw = labels or {"count": np.array(4, "int32")}
    first = sample(seed=np.array(3, "int32"), **draw)["images"]
    np.testing.assert_array_equal(first, sample(seed=np.array(3, "int32"), **draw)["images"])
    assert first.shape == (4, 28, 28, 1) and first.min() >= 0 and first.max() <= 1


def test_export_errors_are_one_line_and_touch_nothing(one_epoch_run, tmp_path):
    run = one_epoch_run("vae")  # the checks do not depend on the strategy
    runner = CliRunner()
    missing = runner.invoke(cli, ["export", str(tmp_path / "nope"), "--out", str(tmp_path / "e")])
    assert missing.exit_code == 1 and "no such run directory" in missing.output
    (tmp_path / "notarun").mkdir()
    not_run = runner.invoke(
        cli, ["export", str(tmp_path / "notarun"), "--out", str(tmp_path / "e")]
    )
    assert not_run.exit_code == 1 and "not a complete mnist-vae run" in not_run.output
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("mine")
    clash = runner.invoke(cli, ["export", str(run.path), "--out", str(occupied)])
    assert clash.exit_code == 2 and "--overwrite" in clash.output
    assert [p.name for p in occupied.iterdir()] == ["keep.txt"]
    for result in (missing, not_run, clash):
        assert len([line for line in result.output.splitlines() if line.strip()]) == 1
    unrelated = runner.invoke(cli, ["export", str(run.path), "--out", str(occupied), "--overwrite"])
    assert unrelated.exit_code == 2 and "not an mnist-vae result" in unrelated.output
    assert [p.name for p in occupied.iterdir()] == ["keep.txt"]  # --overwrite spared it
    earlier = tmp_path / "earlier"
    assert runner.invoke(cli, ["export", str(run.path), "--out", str(earlier)]).exit_code == 0
    (earlier / "notes.txt").write_text("the user's, beside the earlier export")
    kept = runner.invoke(cli, ["export", str(run.path), "--out", str(earlier), "--overwrite"])
    assert kept.exit_code == 2 and "(notes.txt)" in kept.output  # not in its manifest
    assert (earlier / "notes.txt").exists()
    (earlier / "notes.txt").unlink()
    replaced = runner.invoke(cli, ["export", str(run.path), "--out", str(earlier), "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    assert (earlier / "saved_model.pb").exists()
    other_run = tmp_path / "other-run"  # a trained run is not an earlier export
    shutil.copytree(run.path, other_run)
    before = sorted(p.name for p in other_run.iterdir())
    aimed = runner.invoke(cli, ["export", str(run.path), "--out", str(other_run), "--overwrite"])
    assert aimed.exit_code == 2 and "is an mnist-vae run, not an export" in aimed.output
    assert sorted(p.name for p in other_run.iterdir()) == before


def test_sample_from_a_saved_model(trained, tmp_path, one_epoch_export):
    run, model = trained
    export = one_epoch_export(run.config.model.strategy)
    npy = tmp_path / "s.npy"
    result = CliRunner().invoke(
        cli,
        [
            "sample",
            "--saved-model",
            str(export),
            "--digit",
            "4",
            "--count",
            "6",
            "--out",
            str(tmp_path / "s.png"),
            "--npy",
            str(npy),
        ],
    )
    assert result.exit_code == 0, result.output
    images = np.load(npy)
    assert images.shape == (6, 28, 28)
    assert (tmp_path / "s.png").exists()
    # The same seed gives the same digits from the export as from the run itself.
    want = sample_digits(model, 6, 0, digit=4, digit_means=run.digit_means())
    np.testing.assert_allclose(images, want, atol=1e-5)


def test_one_library_call_draws_from_a_run_and_from_its_export_alike(
    trained, tmp_path, one_epoch_export
):
    """``draw_samples`` from Python: a run and its export are the same kind of source
    (the export is a GenerativeModel too), so the same request gives the same images."""
    from mnist_vae.export import ExportedModel
    from mnist_vae.models import GenerativeModel
    from mnist_vae.training import SampleRequest, SampleResult, draw_samples

    run, _ = trained
    export = one_epoch_export(run.config.model.strategy)
    assert isinstance(ExportedModel(export), GenerativeModel)
    notes = []
    results = [
        draw_samples(
            SampleRequest(
                **source,
                count=6,
                digit=4,
                seed=2,
                out=tmp_path / f"{name}.png",
                npy=tmp_path / f"{name}.npy",
            ),
            report=notes.append,
        )
        for name, source in (("run", {"run": run.path}), ("export", {"saved_model": export}))
    ]
    for result, name in zip(results, ("run", "export"), strict=True):
        assert isinstance(result, SampleResult) and result.images.shape == (6, 28, 28)
        assert result.out == tmp_path / f"{name}.png" and result.out.exists()
        np.testing.assert_array_equal(np.load(result.npy), result.images)
    np.testing.assert_allclose(results[0].images, results[1].images, atol=1e-5)
    assert notes == []  # the prior and a class need no sampler


def test_a_savedmodel_that_is_not_an_mnist_vae_export_is_refused_unopened(tmp_path):
    """A crafted SavedModel whose ``metadata`` writes a file: refused before TensorFlow runs it."""
    import tensorflow as tf

    planted = tmp_path / "planted.txt"

    class Crafted(tf.Module):
        @tf.function(input_signature=[])
        def metadata(self):
            tf.io.write_file(str(planted), "ran")
            return {"config": tf.constant("{}")}

    crafted = Crafted()
    tf.saved_model.save(
        crafted, str(tmp_path / "crafted"), signatures={"metadata": crafted.metadata}
    )
    assert not planted.exists()
    result = CliRunner().invoke(
        cli,
        ["sample", "--saved-model", str(tmp_path / "crafted"), "--out", str(tmp_path / "s.png")],
    )
    assert result.exit_code == 1, result.output
    assert "not an mnist-vae export" in result.output and "trust" in result.output
    assert not planted.exists() and not (tmp_path / "s.png").exists()


def test_a_crafted_graph_beside_genuine_assets_and_variables_never_runs(
    trained, tmp_path, one_epoch_export
):
    """A SavedModel is read as data: a graph that writes a file, given a genuine export's
    assets and variables, is never run; the digits come from the rebuilt model."""
    import shutil

    import tensorflow as tf

    run, model = trained
    genuine = one_epoch_export(run.config.model.strategy)  # shared: only read here
    planted = tmp_path / "planted.txt"

    class Crafted(tf.Module):
        def __init__(self):
            super().__init__()
            self.v = tf.Variable(1.0)

        @tf.function(input_signature=[tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int32)])
        def sample(self, count, seed):
            tf.io.write_file(str(planted), "ran")
            return {"images": tf.zeros([count, 28, 28, 1])}

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
        def decode(self, z):
            tf.io.write_file(str(planted), "ran")
            return {"images": tf.zeros([tf.shape(z)[0], 28, 28, 1])}

    crafted = Crafted()
    folder = tmp_path / "crafted"
    signatures = {"sample": crafted.sample, "decode": crafted.decode}
    tf.saved_model.save(crafted, str(folder), signatures=signatures)
    for part in ("assets", "variables"):  # a genuine export's data beside the crafted graph
        shutil.rmtree(folder / part, ignore_errors=True)
        shutil.copytree(genuine / part, folder / part)
    npy = tmp_path / "s.npy"
    result = CliRunner().invoke(
        cli,
        [
            "sample",
            "--saved-model",
            str(folder),
            "--count",
            "4",
            "--out",
            str(tmp_path / "s.png"),
            "--npy",
            str(npy),
        ],
    )
    assert result.exit_code == 0, result.output
    assert not planted.exists()  # the crafted graph never ran
    conditional = bool(model.conditional)
    labels = np.arange(4, dtype=np.int32) % 10 if conditional else None
    want = np.asarray(model.sample(4, 0, labels) if conditional else model.sample(4, 0))[..., 0]
    np.testing.assert_allclose(np.load(npy), want, atol=1e-5)


def test_an_export_whose_variables_do_not_fit_its_model_is_refused(one_epoch_export, tmp_path):
    """A vae export holding a cvae's variables (other kernel shapes): one line, nothing run."""
    import shutil

    vae = shutil.copytree(one_epoch_export("vae"), tmp_path / "vae")  # a copy: changed below
    cvae = one_epoch_export("cvae")
    shutil.rmtree(vae / "variables")
    shutil.copytree(cvae / "variables", vae / "variables")
    (vae / "assets" / "checksums.json").unlink()  # as an export made before the record
    result = CliRunner().invoke(
        cli, ["sample", "--saved-model", str(vae), "--out", str(tmp_path / "s.png")]
    )
    assert result.exit_code == 1, result.output
    assert "do not fit the model it describes" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "s.png").exists()


@pytest.mark.parametrize(
    "damage",
    [
        {"latent.json": "[]"},
        {"latent.json": '{"digit_means": [[0.0, 1.0], [1.0]]}'},
        {"config.json": '{"mnist_vae_run": 1}'},
    ],
)
def test_an_export_with_damaged_run_files_is_one_line_naming_them(
    one_epoch_export, tmp_path, damage
):
    export = tmp_path / "export"
    shutil.copytree(one_epoch_export("vae"), export)
    for name, text in damage.items():
        (export / "assets" / name).write_text(text)
    (export / "assets" / "checksums.json").unlink()  # as an export made before the record
    result = CliRunner().invoke(
        cli, ["sample", "--saved-model", str(export), "--out", str(tmp_path / "s.png")]
    )
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "is damaged" in lines[0] and "export the run again" in lines[0]
    assert "unexpected" not in lines[0] and not (tmp_path / "s.png").exists()


@pytest.mark.parametrize(
    "change", ["edited", "added", "linked", "nested record", "deleted", "record", "record folder"]
)
def test_an_export_changed_after_it_was_written_is_refused_in_one_line(
    one_epoch_export, tmp_path, change
):
    """The reader rebuilds the model from the export's files: an edited model.json (here
    tanh made relu, same shapes, other images) or an added sampler folder would be used
    silently, so each file's SHA-256 is recorded at export and checked before reading."""
    export = shutil.copytree(one_epoch_export("vae"), tmp_path / "export")
    recorded = json.loads((export / "assets" / "checksums.json").read_text())["sha256"]
    assert {"assets/model.json", "assets/latent.json"} <= set(recorded)
    assert any(name.startswith("variables/") for name in recorded)
    model_json = export / "assets" / "model.json"
    if change == "edited":
        assert '"tanh"' in model_json.read_text() or '"relu"' in model_json.read_text()
        text = model_json.read_text()
        model_json.write_text(text.replace('"tanh"', '"sigmoid"').replace('"relu"', '"elu"'))
        expected = "changed or missing: assets/model.json"
    elif change == "added":
        (export / "assets" / "samplers" / "gmm").mkdir(parents=True)
        for name in ("sampler.json", "a.npy", "b.npy", "c.npy"):
            (export / "assets" / "samplers" / "gmm" / name).write_text("{}")
        expected = "added: assets/samplers/gmm/a.npy, assets/samplers/gmm/b.npy, "
        expected += "assets/samplers/gmm/c.npy and 1 more"
    elif change == "linked":  # a folder linked in is read through: it counts as added
        (tmp_path / "elsewhere" / "gmm").mkdir(parents=True)
        (tmp_path / "elsewhere" / "gmm" / "sampler.json").write_text("{}")
        (export / "assets" / "samplers").symlink_to(tmp_path / "elsewhere")
        expected = "added: assets/samplers"
    elif change == "nested record":  # only assets/checksums.json is the record
        (export / "variables" / "checksums.json").write_text("{}")
        expected = "added: variables/checksums.json"
    elif change == "deleted":  # named as changed, not as "not an export"
        (export / "assets" / "metrics.json").unlink()
        expected = "changed or missing: assets/metrics.json"
    elif change == "record":
        (export / "assets" / "checksums.json").write_text("[1]")
        expected = "checksums.json is damaged"
    else:  # a record that is not a file is damaged, not absent (an older export)
        (export / "assets" / "checksums.json").unlink()
        (export / "assets" / "checksums.json").mkdir()
        model_json.write_text(model_json.read_text() + " ")
        expected = "checksums.json is damaged"
    result = CliRunner().invoke(
        cli, ["sample", "--saved-model", str(export), "--out", str(tmp_path / "s.png")]
    )
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0] and "export the run again" in lines[0]
    assert not (tmp_path / "s.png").exists()


def signature_listing(signatures: dict) -> dict:
    """{signature: {"inputs"/"outputs": {name: "DT_X (shape)"}}} with the latent size as L."""
    return {
        name: {side: dict(sorted(tensors.items())) for side, tensors in sides.items()}
        for name, sides in sorted(signatures.items())
    }


def documented_signatures(text: str, latent: int) -> dict:
    """The signatures docs/export.md's `saved_model_cli show --all` listing shows."""
    listing = text.split("$ saved_model_cli show", 1)[1].split("```", 1)[0]
    found, side, tensor = {}, None, None
    for line in listing.splitlines():
        line = line.strip()
        if match := re.fullmatch(r"signature_def\['(\w+)'\]:", line):
            current = found.setdefault(match[1], {"inputs": {}, "outputs": {}})
        elif match := re.fullmatch(r"(inputs|outputs)\['(\w+)'\] tensor_info:", line):
            side, tensor = match[1], match[2]
        elif line.startswith("dtype: "):
            current[side][tensor] = line.removeprefix("dtype: ")
        elif line.startswith("shape: "):
            shape = line.removeprefix("shape: ").replace(f"(-1, {latent})", "(-1, L)")
            current[side][tensor] += f" {shape}"
    return signature_listing(found)


def test_export_md_lists_the_signatures_an_export_has(one_epoch_export, one_epoch_run):
    """docs/export.md's `saved_model_cli show` listing (net1, latent 2) names the
    signatures, tensors, dtypes and shapes a vae export has, read from its
    saved_model.pb as data (the latent size aside; TensorFlow's node names are not
    compared)."""
    from tensorflow.core.framework import types_pb2
    from tensorflow.core.protobuf import saved_model_pb2

    from tests.helpers import ROOT

    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((one_epoch_export("vae") / "saved_model.pb").read_bytes())
    latent = one_epoch_run("vae").config.model.latent_dim

    def described(info) -> str:
        dims = [d.size for d in info.tensor_shape.dim]
        shape = "(" + ", ".join(map(str, dims)) + ("," if len(dims) == 1 else "") + ")"
        shape = shape.replace(f"(-1, {latent})", "(-1, L)")
        return f"{types_pb2.DataType.Name(info.dtype)} {shape}"

    signatures = {
        name: {
            "inputs": {key: described(info) for key, info in definition.inputs.items()},
            "outputs": {key: described(info) for key, info in definition.outputs.items()},
        }
        for name, definition in saved.meta_graphs[0].signature_def.items()
        if name != "__saved_model_init_op"
    }
    documented = documented_signatures((ROOT / "docs" / "export.md").read_text(), 2)
    assert len(documented) >= 6, "docs/export.md: the saved_model_cli listing was not found"
    assert documented == signature_listing(signatures), (
        "docs/export.md: paste `saved_model_cli show --dir EXPORT --all` of a net1 latent-2 "
        "vae export"
    )
