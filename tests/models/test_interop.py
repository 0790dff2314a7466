"""Keras interop: plain Keras loads and exports our models, and other backends fail clearly.

Also the promise that prior sampling belongs to the model: the same seed gives the
same images from ``model.sample``, ``mnist-vae sample`` and an export's ``sample``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from mnist_vae.cli.main import cli
from mnist_vae.models import build_model, model_config
from mnist_vae.registry import strategies
from tests.helpers import real_batch


def _python(code: str, **env_changes: str | None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    for name, value in env_changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def compiled_model(name: str) -> keras.Model:
    """A net1 model of strategy ``name`` (latent 2, seed 0), compiled with SGD: its
    optimizer's variables are built, so a saved file holds them as a trained one does."""
    model = build_model(model_config("net1", strategy=name, latent_dim=2), seed=0)
    model.compile(optimizer=keras.optimizers.SGD(1e-3))
    return model


@pytest.fixture(scope="module")
def trained_models(mnist):
    """vae's and cvae's net1 models trained for a step with SGD on ``real_batch``, for the
    exports of trained models. Shared: tests export them, and change nothing."""
    images, labels = real_batch(mnist)
    models = {}
    for name in ("vae", "cvae"):
        models[name] = compiled_model(name)
        models[name].fit(images, labels, batch_size=16, epochs=1, verbose=0)
    return models


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory, mnist):
    """One compiled .keras file per registered strategy, with a reference output (a
    training step would add tracing, not another kind of file)."""
    folder = tmp_path_factory.mktemp("keras-files")
    images, labels = real_batch(mnist)
    saved = {}
    for name in strategies.names():
        model = compiled_model(name)
        path = folder / f"{name}.keras"
        model.save(path)
        y = labels if model.conditional else None
        np.save(folder / f"{name}.npy", keras.ops.convert_to_numpy(model.reconstruct(images, y)))
        saved[name] = path
    np.save(folder / "images.npy", images)
    np.save(folder / "labels.npy", labels)
    return folder, saved


LOAD_CODE = """
import json, sys
from pathlib import Path
{imports}
import numpy as np

folder = Path(sys.argv[1])
images, labels = np.load(folder / "images.npy"), np.load(folder / "labels.npy")
report = {{}}
for path in sorted(folder.glob("*.keras")):
    model = keras.saving.load_model(path)
    y = labels if model.conditional else None
    got = keras.ops.convert_to_numpy(model.reconstruct(images, y))
    want = np.load(path.with_suffix(".npy"))
    report[path.stem] = [type(model).__name__, float(np.abs(got - want).max())]
print(json.dumps(report))
"""


@pytest.mark.parametrize(
    "imports",
    [
        # slow: the order every test process has (mnist_vae, then keras); test_contracts
        # saves and plain-Keras loads every strategy in-process, in the default suite.
        pytest.param("import mnist_vae\nimport keras", marks=pytest.mark.slow),
        "import keras\nimport mnist_vae",
    ],
)
def test_plain_keras_loads_every_strategy_after_import_mnist_vae(saved_models, imports):
    folder, saved = saved_models
    code = LOAD_CODE.format(imports=imports)
    done = subprocess.run(
        [sys.executable, "-c", code, str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(report) == sorted(saved)
    for name, (_, difference) in report.items():
        assert difference < 1e-6, name


@pytest.mark.parametrize("strategy", ["vae", "cvae"])
def test_model_export_works_on_a_trained_model(tmp_path, mnist, trained_models, strategy):
    images, labels = real_batch(mnist)
    model = trained_models[strategy]  # net1, trained for a step on these images
    model.export(str(tmp_path / "export"), verbose=False)
    served = tf.saved_model.load(str(tmp_path / "export"))
    if model.conditional:
        got = served.serve((images, labels))
        want = model((images, labels))
    else:
        got, want = served.serve(images), model(images)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-5)


BACKEND_CODE = """
import mnist_vae
from mnist_vae.models import model_config
model_config("net1")
"""


def test_another_keras_backend_fails_in_one_line_from_python():
    done = _python(BACKEND_CODE, KERAS_BACKEND="jax")
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert "BackendError" in last and "needs Keras's TensorFlow backend" in last
    assert "'jax'" in last and "KERAS_BACKEND=tensorflow" in last


def test_another_keras_backend_fails_in_one_line_from_the_cli(tmp_path):
    code = "import sys\nfrom mnist_vae.cli.main import cli\nsys.argv = ['mnist-vae', 'train']\n"
    code += "cli()"
    done = _python(code, KERAS_BACKEND="jax")
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert "needs Keras's TensorFlow backend" in lines[0]


@pytest.fixture(scope="module", params=["vae", "cvae"])
def tiny_run(request, one_epoch_run):
    """conftest's one-epoch net1 run (shared with test_export)."""
    return one_epoch_run(request.param)


def test_the_same_seed_gives_the_same_images_on_all_three_sampling_paths(
    tiny_run, tmp_path, one_epoch_export
):
    run = tiny_run
    export = one_epoch_export(run.config.model.strategy)  # shared with test_export
    model = run.load_model()
    from_python = keras.ops.convert_to_numpy(model.sample(12, seed=5))[..., 0]

    npy = tmp_path / "cli.npy"
    args = [
        "sample",
        str(run.path),
        "--count",
        "12",
        "--seed",
        "5",
        "--out",
        str(tmp_path / "cli.png"),
        "--npy",
        str(npy),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    from_cli = np.load(npy)

    signature = tf.saved_model.load(str(export)).signatures["sample"]
    seed = tf.constant(5, tf.int32)
    if model.conditional:
        labels = tf.constant(np.arange(12) % 10, tf.int32)
        from_export = signature(labels=labels, seed=seed)["images"].numpy()[..., 0]
    else:
        from_export = signature(count=tf.constant(12), seed=seed)["images"].numpy()[..., 0]

    np.testing.assert_allclose(from_cli, from_python, atol=1e-5)
    np.testing.assert_allclose(from_export, from_python, atol=1e-5)
    other = keras.ops.convert_to_numpy(model.sample(12, seed=6))[..., 0]
    assert np.abs(other - from_python).max() > 1e-2  # the seed matters
