"""Read MNIST from a Keras-layout .npz or a directory of IDX files (gzipped or not).

``read_path`` gives the arrays; ``read_dataset`` also the class names that came with
them (``mnist_vae.data.classes``: a names file, an .npz's ``class_names``, or a known
dataset recognised by its IDX files' sha256).
"""

from __future__ import annotations

import gzip
import hashlib
import math
import struct
import tokenize
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_vae.data import classes
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


@dataclass(frozen=True)
class DataFiles:
    """What a --data path holds: the arrays, and the class names that came with them.

    ``given``: names from a names file or the .npz itself; ``known``: a known dataset's,
    recognised by its IDX files' sha256 (``mnist_vae.data.classes``). None when absent.
    """

    arrays: MnistArrays
    given: classes.ClassNames | None = None
    known: classes.ClassNames | None = None


def read_path(path: str | Path) -> MnistArrays:
    """Read a .npz file or an IDX directory, whichever ``path`` is."""
    return read_dataset(path).arrays


def read_dataset(path: str | Path) -> DataFiles:
    """``read_path``'s arrays with the class names found beside or inside them.

    A names file (``classes.txt`` in an IDX folder, ``NAME.classes.txt`` beside
    ``NAME.npz``) wins over an .npz's ``class_names`` array.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        arrays, file_sha256 = _read_idx_dir(path)
        given = classes.read_names_file(classes.names_file(path))
        return DataFiles(arrays, given, classes.known_classes(file_sha256))
    if path.is_file():
        arrays, embedded = _read_npz(path)
        return DataFiles(arrays, classes.read_names_file(classes.names_file(path)) or embedded)
    if not path.exists():
        raise DataFormatError(f"{path}: no such file or directory")
    raise DataFormatError(f"{path}: not a regular file or directory")


def read_npz(path: str | Path) -> MnistArrays:
    """A Keras-layout .npz holding x_train, y_train, x_test and y_test."""
    return _read_npz(path)[0]


def _read_npz(path: str | Path) -> tuple[MnistArrays, classes.ClassNames | None]:
    """The arrays, and the names in the archive's ``class_names`` array if it has one."""
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
            names = _npz_names(path, archive) if classes.NPZ_KEY in archive.files else None
    except DataFormatError:
        raise
    except PermissionError:
        raise DataFormatError(f"{path}: permission denied") from None
    except CORRUPT_NPZ_ERRORS as exc:
        raise DataFormatError(
            f"{path}: not a readable .npz archive (truncated or corrupt: {_reason(exc)})"
        ) from None
    return MnistArrays.checked(str(path), **arrays), names


def _npz_names(path: Path, archive) -> classes.ClassNames:
    """An .npz's ``class_names``: ten strings (a str or UTF-8 bytes array), in label order."""
    wanted = (
        f"{path}: {classes.NPZ_KEY} must be an array of {len(classes.DIGITS)} strings "
        "in label order, e.g. np.array(['apple', ...])"
    )
    try:
        names = archive[classes.NPZ_KEY]
    except ValueError:  # an object array: refused without pickle
        raise DataFormatError(wanted) from None
    if names.dtype.kind == "S":
        try:
            names = np.char.decode(names, "utf-8")
        except UnicodeDecodeError:
            raise DataFormatError(wanted) from None
    if names.dtype.kind != "U" or names.ndim != 1:
        raise DataFormatError(wanted)
    checked = classes.check_names(names.tolist(), f"{path} ({classes.NPZ_KEY})")
    return classes.ClassNames(
        checked, f"{classes.NPZ_KEY} in {path.name}", digits=checked == classes.DIGITS
    )


def read_idx_dir(directory: str | Path) -> MnistArrays:
    """A directory with the four IDX files MNIST and its drop-in relatives ship in."""
    return _read_idx_dir(directory)[0]


def _read_idx_dir(directory: str | Path) -> tuple[MnistArrays, dict[str, str]]:
    """The arrays and the sha256 of each file's bytes as found (gzipped or raw)."""
    directory = Path(directory)
    files = {key: _find_idx(directory, key) for key in KEYS}
    read = {key: _read_idx(file) for key, file in files.items()}
    arrays = MnistArrays.checked(str(directory), **{key: read[key][0] for key in KEYS})
    return arrays, {key: read[key][1] for key in KEYS}


def read_idx(path: str | Path) -> np.ndarray:
    """One IDX file, gzipped or raw (detected from its first bytes, not its name)."""
    return _read_idx(path)[0]


def _read_idx(path: str | Path) -> tuple[np.ndarray, str]:
    """One IDX file and the sha256 of its bytes as stored (before any gunzip)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        if raw[:2] == GZIP_MAGIC:
            raw = gzip.decompress(raw)
    except PermissionError:
        raise DataFormatError(f"{path}: permission denied") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFormatError(f"{path}: corrupt or truncated gzip data ({_reason(exc)})") from None
    return _parse_idx(path, raw), digest


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
