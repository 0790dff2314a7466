"""Read MNIST from a Keras-layout .npz or a directory of IDX files (gzipped or not)."""

from __future__ import annotations

import gzip
import math
import struct
import tokenize
import zipfile
import zlib
from pathlib import Path

import numpy as np

from mnist_vae.data.sources.arrays import KEYS, MnistArrays
from mnist_vae.errors import DataFormatError, first_line

# Glob patterns for the four IDX files; they match MNIST's own names
# (train-images-idx3-ubyte.gz), dotted variants (train-images.idx3-ubyte) and
# prefixed drop-ins such as EMNIST's (emnist-digits-train-images-idx3-ubyte.gz).
IDX_PATTERNS = {
    "x_train": ("*train-images*idx3*",),
    "y_train": ("*train-labels*idx1*",),
    "x_test": ("*t10k-images*idx3*", "*test-images*idx3*"),
    "y_test": ("*t10k-labels*idx1*", "*test-labels*idx1*"),
}
IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
# What zipfile and numpy raise on a damaged archive. RuntimeError (NotImplementedError
# among them) comes from zipfile on encryption or compression flags it cannot handle,
# TokenError from numpy parsing a damaged .npy header.
CORRUPT_NPZ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    RuntimeError,
    tokenize.TokenError,
)


def read_path(path: str | Path) -> MnistArrays:
    """Read a .npz file or an IDX directory, whichever ``path`` is."""
    path = Path(path).expanduser()
    if path.is_dir():
        return read_idx_dir(path)
    if path.is_file():
        return read_npz(path)
    if not path.exists():
        raise DataFormatError(f"{path}: no such file or directory")
    raise DataFormatError(f"{path}: not a regular file or directory")


def read_npz(path: str | Path) -> MnistArrays:
    """A Keras-layout .npz holding x_train, y_train, x_test and y_test."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            signature = handle.read(4)
    except PermissionError:
        raise DataFormatError(f"{path}: permission denied") from None
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot be read ({_reason(exc)})") from None
    if signature != ZIP_MAGIC:
        raise DataFormatError(
            f"{path}: not a .npz archive (no zip signature); expected a Keras-layout .npz "
            "or a directory of MNIST IDX files"
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in KEYS if key not in archive.files]
            if missing:
                raise DataFormatError(
                    f"{path}: .npz lacks {', '.join(missing)} (has {', '.join(archive.files)}); "
                    "expected the Keras layout x_train, y_train, x_test, y_test"
                )
            arrays = {key: archive[key] for key in KEYS}
    except DataFormatError:
        raise
    except PermissionError:
        raise DataFormatError(f"{path}: permission denied") from None
    except CORRUPT_NPZ_ERRORS as exc:
        raise DataFormatError(
            f"{path}: not a readable .npz archive (truncated or corrupt: {_reason(exc)})"
        ) from None
    return MnistArrays.checked(str(path), **arrays)


def read_idx_dir(directory: str | Path) -> MnistArrays:
    """A directory with the four IDX files MNIST and its drop-in relatives ship in."""
    directory = Path(directory)
    files = {key: _find_idx(directory, key) for key in KEYS}
    arrays = {key: read_idx(file) for key, file in files.items()}
    return MnistArrays.checked(str(directory), **arrays)


def read_idx(path: str | Path) -> np.ndarray:
    """One IDX file, gzipped or raw (detected from its first bytes, not its name)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == GZIP_MAGIC:
            raw = gzip.decompress(raw)
    except PermissionError:
        raise DataFormatError(f"{path}: permission denied") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFormatError(f"{path}: corrupt or truncated gzip data ({_reason(exc)})") from None
    return _parse_idx(path, raw)


def _parse_idx(path: Path, raw: bytes) -> np.ndarray:
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in IDX_DTYPES:
        raise DataFormatError(
            f"{path}: not an IDX file (bad magic number {raw[:4].hex() or 'empty'})"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataFormatError(f"{path}: IDX header is truncated")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(IDX_DTYPES[raw[2]])
    expected = math.prod(shape) * dtype.itemsize  # exact: np.prod can wrap around in int64
    actual = len(raw) - header
    if actual != expected:
        problem = "truncated" if actual < expected else "has trailing bytes"
        raise DataFormatError(
            f"{path}: IDX data {problem}: header says shape {shape} ({expected} bytes), "
            f"found {actual} bytes"
        )
    return (
        np.frombuffer(raw, dtype=dtype, offset=header)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )


def _find_idx(directory: Path, key: str) -> Path:
    matches = sorted(
        {p for pattern in IDX_PATTERNS[key] for p in directory.glob(pattern) if p.is_file()}
    )
    if not matches:
        wanted = " or ".join(IDX_PATTERNS[key])
        raise DataFormatError(
            f"{directory}: no IDX file for {key} (looked for {wanted}); expected a Keras .npz "
            "or a directory with the four MNIST IDX files"
        )
    if len(matches) > 1:
        # The same file gzipped and raw side by side is fine: prefer the raw one.
        raw = [p for p in matches if p.suffix != ".gz"]
        if len(raw) == 1 and all(p.with_suffix("") == raw[0] for p in matches if p.suffix == ".gz"):
            return raw[0]
        names = ", ".join(p.name for p in matches)
        raise DataFormatError(f"{directory}: several IDX files could be {key}: {names}")
    return matches[0]


def _reason(exc: BaseException) -> str:
    return first_line(exc, limit=300)
