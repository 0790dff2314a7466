"""Reading MNIST from files: Keras-layout .npz archives and directories of IDX files.

Valid inputs are built from a slice of the real MNIST fixture; broken ones are
derived from valid ones, so each error test differs from a passing input in one
way only. Every error must be a one-line ``DataFormatError`` naming the file.
"""

from __future__ import annotations

import gzip
import os
import struct

import numpy as np
import pytest

from mnist_vae.data.sources.arrays import KEYS, MnistArrays
from mnist_vae.data.sources.files import read_idx, read_idx_dir, read_npz, read_path
from mnist_vae.errors import DataError, DataFormatError, UsageError
from tests.helpers import idx_bytes, one_line_message

N_TRAIN, N_TEST = 100, 50

# File names per layout, in KEYS order (x_train, y_train, x_test, y_test).
LAYOUTS = {
    "mnist-gz": (
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ),
    "mnist-raw": (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ),
    "dotted": (
        "train-images.idx3-ubyte",
        "train-labels.idx1-ubyte",
        "t10k-images.idx3-ubyte",
        "t10k-labels.idx1-ubyte",
    ),
    "emnist-prefixed": (
        "emnist-digits-train-images-idx3-ubyte.gz",
        "emnist-digits-train-labels-idx1-ubyte.gz",
        "emnist-digits-test-images-idx3-ubyte.gz",
        "emnist-digits-test-labels-idx1-ubyte.gz",
    ),
}


# -- helpers -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample(mnist) -> MnistArrays:
    """The first 100 training and 50 test images of real MNIST."""
    return MnistArrays(
        mnist.x_train[:N_TRAIN].copy(),
        mnist.y_train[:N_TRAIN].copy(),
        mnist.x_test[:N_TEST].copy(),
        mnist.y_test[:N_TEST].copy(),
    )


def write_idx(path, array: np.ndarray) -> None:
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)


def write_idx_dir(directory, arrays: MnistArrays, names=LAYOUTS["mnist-gz"]):
    directory.mkdir(parents=True, exist_ok=True)
    for key, name in zip(KEYS, names, strict=True):
        write_idx(directory / name, getattr(arrays, key))
    return directory


def assert_same(arrays: MnistArrays, expected: MnistArrays) -> None:
    for key in KEYS:
        got, want = getattr(arrays, key), getattr(expected, key)
        assert got.dtype == np.uint8, key
        assert got.shape == want.shape, key
        np.testing.assert_array_equal(got, want, err_msg=key)


def assert_one_line(excinfo, *fragments) -> str:
    """The error is a usage error whose single-line message contains each fragment."""
    error = excinfo.value
    assert isinstance(error, DataFormatError)
    assert isinstance(error, UsageError) and isinstance(error, DataError)
    return one_line_message(error, *fragments)


# -- .npz: valid inputs --------------------------------------------------------------


def test_idx_helper_writes_the_documented_magic_numbers(sample):
    """The fixture writer itself: images are 0x00000803, labels 0x00000801, dims big-endian."""
    images = idx_bytes(sample.x_train)
    labels = idx_bytes(sample.y_train)
    assert images[:16] == struct.pack(">IIII", 0x00000803, N_TRAIN, 28, 28)
    assert labels[:8] == struct.pack(">II", 0x00000801, N_TRAIN)
    assert len(images) == 16 + N_TRAIN * 784


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed], ids=["savez", "compressed"])
def test_npz_round_trip(tmp_path, sample, save):
    """Plain and compressed Keras-layout archives give back exactly the arrays written."""
    path = tmp_path / "mnist.npz"
    save(path, **sample.as_dict())
    assert_same(read_npz(path), sample)
    assert_same(read_path(path), sample)
    assert_same(read_path(str(path)), sample)


@pytest.mark.parametrize(
    "reshape",
    [lambda x: x[..., None], lambda x: x.reshape(len(x), 784)],
    ids=["N,28,28,1", "N,784"],
)
def test_npz_image_shapes_are_normalised(tmp_path, sample, reshape):
    """Channel-last and flat image layouts are accepted and come back as (N, 28, 28)."""
    arrays = sample.as_dict()
    arrays["x_train"] = reshape(sample.x_train)
    arrays["x_test"] = reshape(sample.x_test)
    path = tmp_path / "reshaped.npz"
    np.savez(path, **arrays)
    loaded = read_npz(path)
    assert loaded.x_train.shape == (N_TRAIN, 28, 28)
    assert loaded.x_test.shape == (N_TEST, 28, 28)
    assert_same(loaded, sample)


def test_npz_wide_integer_labels_become_uint8(tmp_path, sample):
    """int64 labels shaped (N, 1), as some exporters write them, load as uint8 (N,)."""
    arrays = sample.as_dict()
    arrays["y_train"] = sample.y_train.astype(np.int64)[:, None]
    arrays["y_test"] = sample.y_test.astype(np.int64)
    path = tmp_path / "wide.npz"
    np.savez(path, **arrays)
    assert_same(read_npz(path), sample)


# -- IDX: valid inputs -----------------------------------------------------------------


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_idx_directory_layouts(tmp_path, sample, layout):
    """MNIST's own names (gzipped or raw), the dotted variant and EMNIST-style prefixes."""
    directory = write_idx_dir(tmp_path / layout, sample, LAYOUTS[layout])
    assert_same(read_idx_dir(directory), sample)
    assert_same(read_path(directory), sample)


def test_idx_mixed_gzip_and_raw_files(tmp_path, sample):
    """Each file is handled on its own: some gzipped, some raw in one directory."""
    names = LAYOUTS["mnist-gz"][:2] + LAYOUTS["mnist-raw"][2:]
    assert_same(read_path(write_idx_dir(tmp_path / "mixed", sample, names)), sample)


def test_idx_gzip_and_raw_copies_of_one_file_prefer_raw(tmp_path, sample):
    """A raw file beside its .gz is accepted, and the raw one is what gets read."""
    directory = write_idx_dir(tmp_path / "both", sample, LAYOUTS["mnist-raw"])
    # The .gz twins hold different (reversed) arrays, so reading them would show.
    reversed_sample = MnistArrays(*(getattr(sample, key)[::-1] for key in KEYS))
    write_idx_dir(directory, reversed_sample, LAYOUTS["mnist-gz"])
    assert len(list(directory.iterdir())) == 8
    assert_same(read_path(directory), sample)


def test_idx_compression_is_detected_from_content_not_name(tmp_path, sample):
    """A gzipped file without .gz and a raw file named .gz are both read correctly."""
    gzipped = tmp_path / "train-images-idx3-ubyte"
    gzipped.write_bytes(gzip.compress(idx_bytes(sample.x_train)))
    raw = tmp_path / "train-labels-idx1-ubyte.gz"
    raw.write_bytes(idx_bytes(sample.y_train))
    np.testing.assert_array_equal(read_idx(gzipped), sample.x_train)
    np.testing.assert_array_equal(read_idx(raw), sample.y_train)


def test_idx_wider_dtypes_are_read_in_native_order(tmp_path):
    """Big-endian int16 IDX data (type code 0x0B) is decoded, not byte-swapped garbage."""
    values = np.array([[1, -2, 300], [4000, -5000, 6]], dtype=">i2")
    path = tmp_path / "values-idx2-short"
    path.write_bytes(struct.pack(">III", 0x00000B02, 2, 3) + values.tobytes())
    loaded = read_idx(path)
    assert loaded.dtype == np.int16 and loaded.dtype.isnative
    np.testing.assert_array_equal(loaded, values.astype(np.int16))


# -- .npz: errors ------------------------------------------------------------------------


def test_nonexistent_path(tmp_path):
    path = tmp_path / "nowhere" / "mnist.npz"
    with pytest.raises(DataFormatError) as excinfo:
        read_path(path)
    assert_one_line(excinfo, path, "no such file")


def test_path_that_is_neither_file_nor_directory(tmp_path):
    fifo = tmp_path / "mnist.npz"
    os.mkfifo(fifo)
    with pytest.raises(DataFormatError) as excinfo:
        read_path(fifo)
    assert_one_line(excinfo, fifo, "not a regular file or directory")


def test_text_file_named_npz(tmp_path):
    """A file that is not a zip archive at all is named as such, not as a zip error."""
    path = tmp_path / "mnist.npz"
    path.write_text("x_train,y_train\n1,2\n3,4\n")
    for reader in (read_npz, read_path):
        with pytest.raises(DataFormatError) as excinfo:
            reader(path)
        assert_one_line(excinfo, path, "not a .npz archive")


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed], ids=["savez", "compressed"])
@pytest.mark.parametrize("cut", [0, 1, 4, 40, 1000, "half", "-22", "-1"])
def test_truncated_npz(tmp_path, sample, save, cut):
    """An archive cut short anywhere (an interrupted download) is a format error."""
    full = tmp_path / "full.npz"
    save(full, **sample.as_dict())
    data = full.read_bytes()
    size = {"half": len(data) // 2, "-22": len(data) - 22, "-1": len(data) - 1}.get(cut, cut)
    path = tmp_path / "cut.npz"
    path.write_bytes(data[:size])
    with pytest.raises(DataFormatError) as excinfo:
        read_path(path)
    assert_one_line(excinfo, path)


def _first_central_directory_entry(data: bytes) -> int:
    offset = data.find(b"PK\x01\x02")
    assert offset > 0
    return offset


@pytest.mark.parametrize("damage", ["encrypted flag", "unknown compression", "newline in header"])
def test_corrupt_npz_internals(tmp_path, sample, damage):
    """Damage that zipfile or numpy report with unusual exceptions is still a format error."""
    full = tmp_path / "full.npz"
    np.savez(full, **sample.as_dict())
    data = bytearray(full.read_bytes())
    if damage == "encrypted flag":  # general-purpose flag bit 0 of the first member
        data[_first_central_directory_entry(data) + 8] |= 0x01
    elif damage == "unknown compression":  # compression method 99 (AES) of the first member
        entry = _first_central_directory_entry(data)
        data[entry + 10 : entry + 12] = struct.pack("<H", 99)
    else:  # an unbalanced bracket in the first .npy header dict
        closing = data.index(b"}", data.index(b"{'descr'"))
        data[closing] = ord("\n")
    path = tmp_path / "damaged.npz"
    path.write_bytes(bytes(data))
    with pytest.raises(DataFormatError) as excinfo:
        read_npz(path)
    assert_one_line(excinfo, path)


def test_npz_missing_a_key(tmp_path, sample):
    arrays = sample.as_dict()
    del arrays["y_test"]
    path = tmp_path / "three.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataFormatError) as excinfo:
        read_path(path)
    message = assert_one_line(excinfo, path, "y_test")
    assert "lacks y_test" in message


def test_npz_with_pickled_objects_is_refused(tmp_path, sample):
    """Object arrays would need pickle; the reader refuses them instead of unpickling."""
    arrays = sample.as_dict()
    arrays["y_train"] = np.array([object()] * N_TRAIN, dtype=object)
    path = tmp_path / "objects.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataFormatError) as excinfo:
        read_npz(path)
    assert_one_line(excinfo, path)


@pytest.mark.parametrize(
    "key, value, fragment",
    [
        ("x_train", lambda s: s.x_train.astype(np.float32) / 255, "float32"),
        ("x_test", lambda s: s.x_test.astype(np.int16), "int16"),
        ("x_train", lambda s: s.x_train[:, :27, :], "(100, 27, 28)"),
        ("x_test", lambda s: s.x_test[:0], "(0, 28, 28)"),
        ("y_train", lambda s: np.where(s.y_train == 3, 10, s.y_train), "labels from 0 to 10"),
        ("y_test", lambda s: s.y_test.astype(np.int64) - 1, "labels from -1"),
        ("y_train", lambda s: s.y_train.astype(np.float32), "float32"),
        ("y_train", lambda s: s.y_train[:-1], "100 images but y_train has 99 labels"),
        ("x_test", lambda s: s.x_test[:-5], "45 images but y_test has 50 labels"),
    ],
    ids=[
        "float-images",
        "int16-images",
        "wrong-image-shape",
        "no-images",
        "label-10",
        "label-minus-1",
        "float-labels",
        "fewer-train-labels",
        "fewer-test-images",
    ],
)
def test_npz_bad_contents(tmp_path, sample, key, value, fragment):
    """Wrong dtypes, shapes, label ranges and lengths name the file and the array."""
    arrays = sample.as_dict()
    arrays[key] = value(sample)
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataFormatError) as excinfo:
        read_path(path)
    assert_one_line(excinfo, path, fragment)


# -- IDX: errors -------------------------------------------------------------------------


@pytest.mark.parametrize("missing", range(4), ids=list(KEYS))
def test_idx_directory_missing_a_file(tmp_path, sample, missing):
    directory = write_idx_dir(tmp_path / "idx", sample)
    (directory / LAYOUTS["mnist-gz"][missing]).unlink()
    with pytest.raises(DataFormatError) as excinfo:
        read_path(directory)
    assert_one_line(excinfo, directory, f"no IDX file for {KEYS[missing]}")


def test_empty_directory(tmp_path):
    with pytest.raises(DataFormatError) as excinfo:
        read_path(tmp_path)
    assert_one_line(excinfo, tmp_path, "no IDX file")


def test_idx_raw_file_truncated(tmp_path, sample):
    """Fewer data bytes than the header promises (a raw file cut short)."""
    directory = write_idx_dir(tmp_path / "idx", sample, LAYOUTS["mnist-raw"])
    victim = directory / "train-images-idx3-ubyte"
    victim.write_bytes(victim.read_bytes()[:-100])
    with pytest.raises(DataFormatError) as excinfo:
        read_path(directory)
    assert_one_line(excinfo, victim, "truncated", f"{N_TRAIN * 784 - 100} bytes")


@pytest.mark.parametrize("keep", [2, 10, "half", "-4"])
def test_idx_gzip_stream_cut(tmp_path, sample, keep):
    """A gzip stream cut short (header only, half, or missing its trailer)."""
    directory = write_idx_dir(tmp_path / "idx", sample)
    victim = directory / "t10k-images-idx3-ubyte.gz"
    data = victim.read_bytes()
    size = {"half": len(data) // 2, "-4": len(data) - 4}.get(keep, keep)
    victim.write_bytes(data[:size])
    with pytest.raises(DataFormatError) as excinfo:
        read_path(directory)
    assert_one_line(excinfo, victim)


def test_idx_gzip_checksum_mismatch(tmp_path, sample):
    """A flipped byte inside the compressed stream is caught, not silently decoded."""
    victim = tmp_path / "train-labels-idx1-ubyte.gz"
    data = bytearray(gzip.compress(idx_bytes(sample.y_train)))
    data[-8] ^= 0xFF  # the CRC32 in the gzip trailer
    victim.write_bytes(bytes(data))
    with pytest.raises(DataFormatError) as excinfo:
        read_idx(victim)
    assert_one_line(excinfo, victim)


@pytest.mark.parametrize(
    "magic",
    [b"\x00\x00\x07\x03", b"\x01\x00\x08\x03", b"\x00\x00\x08\x00", b"PK\x03\x04", b""],
    ids=["unknown-type", "nonzero-prefix", "zero-dims", "zip", "empty"],
)
def test_idx_bad_magic(tmp_path, sample, magic):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(magic + idx_bytes(sample.x_train)[4:] if magic else b"")
    with pytest.raises(DataFormatError) as excinfo:
        read_idx(path)
    assert_one_line(excinfo, path)


def test_idx_header_truncated(tmp_path):
    """The magic announces three dimensions but only two sizes follow."""
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(struct.pack(">III", 0x00000803, 5, 28))
    with pytest.raises(DataFormatError) as excinfo:
        read_idx(path)
    assert_one_line(excinfo, path, "header is truncated")


def test_idx_header_sizes_that_overflow_int64(tmp_path):
    """Dimensions whose product wraps around in int64 must not crash the reader."""
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(struct.pack(">IIII", 0x00000803, 2**22, 2**22, 2**20))  # product 2**64
    with pytest.raises(DataFormatError) as excinfo:
        read_idx(path)
    assert_one_line(excinfo, path, "truncated")


@pytest.mark.parametrize("gzipped", [False, True], ids=["raw", "gz"])
def test_idx_trailing_bytes(tmp_path, sample, gzipped):
    directory = write_idx_dir(
        tmp_path / "idx", sample, LAYOUTS["mnist-gz" if gzipped else "mnist-raw"]
    )
    victim = directory / LAYOUTS["mnist-gz" if gzipped else "mnist-raw"][1]
    data = idx_bytes(sample.y_train) + b"\x00\x01\x02"
    victim.write_bytes(gzip.compress(data) if gzipped else data)
    with pytest.raises(DataFormatError) as excinfo:
        read_path(directory)
    assert_one_line(excinfo, victim, "trailing bytes")


@pytest.mark.parametrize(
    "extra",
    [
        "emnist-digits-train-images-idx3-ubyte.gz",
        "train-images.idx3-ubyte",
        "old-train-images-idx3",
    ],
)
def test_idx_ambiguous_candidates(tmp_path, sample, extra):
    """Two different files that could both be x_train: refuse rather than guess."""
    directory = write_idx_dir(tmp_path / "idx", sample)
    write_idx(directory / extra, sample.x_train)
    with pytest.raises(DataFormatError) as excinfo:
        read_path(directory)
    assert_one_line(
        excinfo,
        directory,
        "several IDX files could be x_train",
        extra,
        "train-images-idx3-ubyte.gz",
    )


def test_idx_two_gzipped_candidates_are_ambiguous(tmp_path, sample):
    """Only a raw file with its own .gz twin is tolerated, not two unrelated .gz files."""
    directory = write_idx_dir(tmp_path / "idx", sample)
    write_idx(directory / "train-images-idx3-ubyte.backup.gz", sample.x_train)
    with pytest.raises(DataFormatError) as excinfo:
        read_path(directory)
    assert_one_line(excinfo, directory, "x_train")


def test_idx_labels_out_of_range(tmp_path, sample):
    """IDX contents go through the same checks as .npz contents."""
    bad = MnistArrays(
        sample.x_train,
        sample.y_train,
        sample.x_test,
        np.where(sample.y_test == 0, 11, sample.y_test).astype(np.uint8),
    )
    directory = write_idx_dir(tmp_path / "idx", bad)
    with pytest.raises(DataFormatError) as excinfo:
        read_path(directory)
    assert_one_line(excinfo, directory, "y_test", "to 11")
