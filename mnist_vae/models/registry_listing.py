"""A plain-data description of every registry, for ``mnist-vae zoo`` (and its --json).

A builder that fails (a plugin's bug) becomes a row with an ``error`` instead of
breaking the whole listing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mnist_vae.errors import first_line
from mnist_vae.registry import (
    ALL_REGISTRIES,
    architectures,
    decoders,
    encoders,
    plugin_failures,
)


def _attempt(build: Callable[[], Any]) -> tuple[Any, str | None]:
    try:
        return build(), None
    except Exception as exc:  # report it in the listing, keep listing the rest
        return None, f"{type(exc).__name__}: {first_line(exc)}"


def _param_counts(registry, latent_dim: int) -> dict[str, tuple[int | None, str | None]]:
    counts = {}
    for name in registry.names():
        network, error = _attempt(lambda name=name: registry.get(name)(latent_dim))
        counts[name] = (None if network is None else network.count_params(), error)
    return counts


def zoo_listing(latent_dim: int = 2) -> dict[str, Any]:
    """Names, one-line descriptions and (for networks) parameter counts at ``latent_dim``."""
    from mnist_vae.backend import prepare_backend

    prepare_backend()
    counts = {
        "encoders": _param_counts(encoders, latent_dim),
        "decoders": _param_counts(decoders, latent_dim),
    }
    listing: dict[str, Any] = {"latent_dim": latent_dim, "architectures": []}
    for name in architectures.names():
        pair, error = _attempt(architectures.get(name))
        row: dict[str, Any] = {"name": name, "description": architectures.summary(name)}
        if pair is not None:
            enc = counts["encoders"].get(pair.encoder, (None, f"unknown encoder {pair.encoder!r}"))
            dec = counts["decoders"].get(pair.decoder, (None, f"unknown decoder {pair.decoder!r}"))
            row.update(
                encoder=pair.encoder,
                decoder=pair.decoder,
                encoder_params=enc[0],
                decoder_params=dec[0],
            )
            error = enc[1] or dec[1]
        if error:
            row["error"] = error
        listing["architectures"].append(row)
    for kind, registry in ALL_REGISTRIES.items():
        if kind == "architectures":
            continue
        rows = []
        for name in registry.names():
            row = {"name": name, "description": registry.summary(name)}
            if kind in counts:
                row["params"], error = counts[kind][name]
                if error:
                    row["error"] = error
            rows.append(row)
        listing[kind] = rows
    listing["plugin_failures"] = plugin_failures()
    return listing
