"""Package versions recorded with every run, so results can be traced and compared."""

from __future__ import annotations

import importlib.metadata
import platform

PACKAGES = ("mnist-vae", "tensorflow", "keras", "tensorflow-datasets", "numpy", "matplotlib")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
