"""Deferred imports: registering builders must not import TensorFlow.

``import mnist_vae`` and ``mnist-vae --help`` stay instant and listing registry
names is cheap. Modules that only *call* Keras inside builder bodies use
``from mnist_vae._lazy import keras`` and then write ``keras.layers.Conv2D``
exactly as with ``import keras``.
"""

from __future__ import annotations

import contextlib
import importlib
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


def prepare_backend() -> None:
    """Pin Keras to TensorFlow and start TF once, dropping only its start-up chatter.

    Starting means importing TF *and* running a first op, when its devices announce
    themselves; a plugin may already have done the import.
    """
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not _started["tensorflow"]:
        with quiet_tensorflow_startup():
            importlib.import_module("tensorflow").constant(0.0)
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
