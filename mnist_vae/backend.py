"""The Keras backend: TensorFlow, started once, quietly, and only when needed.

``import mnist_vae`` and ``mnist-vae --help`` stay instant: nothing here imports
TensorFlow until ``prepare_backend`` runs. Network builders that only *call* Keras
use ``from mnist_vae.backend import keras`` and write ``keras.layers.Conv2D``
exactly as with ``import keras``. ``when_keras_imported`` lets ``import mnist_vae``
register its Keras classes the moment the user imports Keras, so that
``keras.saving.load_model`` finds them without importing anything of ours first.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import os
import re
import sys
import tempfile
import types
from collections.abc import Iterator
from typing import Any

# TensorFlow's C++ start-up notices on a CPU-only machine; TF_CPP_MIN_LOG_LEVEL no
# longer silences them because they are printed before absl logging starts.
_STARTUP_NOISE = re.compile(
    r"absl::InitializeLog|oneDNN custom operations|cudart_stub\.cc|cuda_platform\.cc|"
    r"Could not find cuda drivers|cpu_feature_guard|rebuild TensorFlow with the appropriate"
)


_started = {"tensorflow": False}

INTRA_OP, INTER_OP = "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"
# Thread counts the user set before mnist-vae was imported: never changed.
_USER_THREADS = {name for name in (INTRA_OP, INTER_OP) if name in os.environ}

REQUIRED_BACKEND = "tensorflow"

GRAPH_OPTIMIZER = "MNIST_VAE_GRAPH_OPTIMIZER"
"""Set to ``0``, TensorFlow runs each compiled function as traced, without its graph
optimizer's rewrite (grappler). The rewrite of every new graph costs about a second: it
pays back over a long training and not over many tiny ones (the test suite sets it).
Results can differ from the optimized graph's in the last bits."""


def graph_optimizer_off() -> bool:
    """``GRAPH_OPTIMIZER``'s value: ``0`` off, ``1`` or unset on; anything else is a usage
    error (a misspelt value would otherwise leave the optimizer on without a word)."""
    from mnist_vae.errors import UsageError

    value = os.environ.get(GRAPH_OPTIMIZER, "").strip()
    if value not in ("", "0", "1"):
        raise UsageError(
            f"{GRAPH_OPTIMIZER}={value!r}: set it to 0 (TensorFlow's graph optimizer off) "
            "or 1 (on, the default), or unset it"
        )
    return value == "0"


def require_tensorflow_backend() -> None:
    """Fail in one line when Keras is (or is about to be) on another backend.

    The models use TensorFlow directly (``tf.GradientTape``, ``tf.distribute``,
    SavedModel export), so JAX, PyTorch or NumPy backends cannot run them.
    """
    from mnist_vae.errors import BackendError

    keras_module = sys.modules.get("keras")
    active = None
    if keras_module is not None and hasattr(keras_module, "backend"):
        with contextlib.suppress(Exception):
            active = keras_module.backend.backend()
    active = active or os.environ.get("KERAS_BACKEND") or REQUIRED_BACKEND
    if active != REQUIRED_BACKEND:
        raise BackendError(
            f"mnist-vae needs Keras's TensorFlow backend, but Keras is set to {active!r}; "
            "unset KERAS_BACKEND or set KERAS_BACKEND=tensorflow"
        )


def set_default_threads(one_per_op: bool = True) -> None:
    """How TensorFlow will spread ops over the cores, unless the user chose already.

    ``one_per_op``: one thread per op and as many ops at once as there are cores, the
    default. TensorFlow's own default (every op split over all the cores) spends a
    two-core machine's time synchronising threads on the small matrix multiplies of a
    dense VAE: one thread per op trains the MLP benchmark 1.2-1.3x faster and scores
    its likelihood 1.1x faster (the scoring's blocks of samples run side by side).
    Convolutional networks at the report's batch of 400 are the other way round
    (1.2x faster split): ``train`` passes False for them (``choose_training_threads``).
    TensorFlow reads the variables set here when it starts; set
    ``TF_NUM_INTRAOP_THREADS`` and ``TF_NUM_INTEROP_THREADS`` to choose yourself.
    """
    if _started["tensorflow"]:
        return  # TensorFlow read them when it started
    cores = str(usable_cores())
    for name, value in ((INTRA_OP, "1" if one_per_op else cores), (INTER_OP, cores)):
        if name not in _USER_THREADS:
            os.environ[name] = value


def _default_threads() -> None:
    """``set_default_threads()`` unless a layout was chosen already (a training's)."""
    if INTRA_OP not in os.environ:
        set_default_threads()


def usable_cores() -> int:
    """The cores this process may run on (its affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def import_backend() -> None:
    """Pin Keras to TensorFlow and import TF quietly, without running an op.

    Running no op leaves TensorFlow's runtime unconfigured, which multi-worker
    training requires at the time its distribution is created.
    """
    require_tensorflow_backend()
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _default_threads()
    if "tensorflow" not in sys.modules:
        with quiet_tensorflow_startup():
            importlib.import_module("tensorflow")


def prepare_backend() -> None:
    """Pin Keras to TensorFlow and start TF once, dropping only its start-up chatter.

    Starting means importing TF *and* running a first op, when its devices announce
    themselves; a plugin may already have done the import.
    """
    require_tensorflow_backend()
    optimizer_off = graph_optimizer_off()
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _default_threads()
    if not _started["tensorflow"]:
        with quiet_tensorflow_startup():
            tf = importlib.import_module("tensorflow")
            tf.constant(0.0)
        if optimizer_off:
            tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
        _started["tensorflow"] = True


@contextlib.contextmanager
def quiet_tensorflow_startup() -> Iterator[None]:
    """Drop TF's start-up notices from whatever the body prints to stderr; keep the rest.

    Used around our own TF import and around plugin imports (which may import TF).
    Works at the file-descriptor level because the notices come from C++.
    """
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if _started["tensorflow"]:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real stderr (e.g. captured)
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            log.seek(0)
            kept = [
                line
                for line in log.read().decode(errors="replace").splitlines(keepends=True)
                if not _STARTUP_NOISE.search(line)
            ]
            if kept:
                sys.stderr.write("".join(kept))


class LazyModule(types.ModuleType):
    """Stand-in for a module that is imported the first time it is used."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__dict__["_module"] = None

    def _load(self) -> types.ModuleType:
        module = self.__dict__["_module"]
        if module is None:
            prepare_backend()
            module = importlib.import_module(self.__name__)
            self.__dict__["_module"] = module
        return module

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._load(), attr)

    def __dir__(self) -> list[str]:
        return dir(self._load())


keras = LazyModule("keras")


class _PostImportFinder(importlib.abc.MetaPathFinder):
    """Finds ``keras`` through the other finders and runs a callback once it is imported."""

    def __init__(self, name: str, callback) -> None:
        self.name = name
        self.callback = callback

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)  # one shot; also stops the search below recursing
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find is not None else None
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        original, callback = spec.loader.exec_module, self.callback

        def exec_module(module) -> None:
            original(module)
            callback()

        spec.loader.exec_module = exec_module  # an instance attribute: this import only
        return spec


def when_keras_imported(callback) -> None:
    """Run ``callback`` now if Keras is imported, else right after ``import keras`` finishes.

    The callback's failures are reported as warnings: they must never break the
    user's own ``import keras``.
    """

    def guarded() -> None:
        import warnings

        try:
            callback()
        except Exception as exc:
            warnings.warn(
                f"mnist-vae could not register its Keras classes: {type(exc).__name__}: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )

    if "keras" in sys.modules:
        guarded()
    elif not any(isinstance(f, _PostImportFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _PostImportFinder("keras", guarded))
