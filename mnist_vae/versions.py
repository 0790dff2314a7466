"""Package versions recorded with every run, so results can be traced and compared."""

from __future__ import annotations

import importlib.metadata
import platform
import sys

PACKAGES = ("mnist-vae", "tensorflow", "keras", "tensorflow-datasets", "numpy", "matplotlib")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for name in PACKAGES:
        versions[name] = installed_version(name)
    return versions


def installed_version(package: str) -> str:
    """``package``'s installed version, read from its metadata (nothing is imported)."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def version_line(version: str) -> str:
    """mnist-vae's ``version`` and what it runs on (``mnist-vae --version``), read from
    the installed packages' metadata, so it stays instant."""
    python = ".".join(map(str, sys.version_info[:3]))
    return (
        f"mnist-vae {version} (TensorFlow {installed_version('tensorflow')}, "
        f"Keras {installed_version('keras')}, Python {python})"
    )
