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


def zoo_tables(listing: dict[str, Any], latent_dim: int) -> list[Any]:
    """``mnist-vae zoo``'s tables of a ``zoo_listing``: the architectures with their
    networks' parameter counts, then every other registry's names and descriptions."""
    from rich.table import Table

    architectures_table = Table(title=f"architectures (parameters at latent_dim={latent_dim})")
    for column in ("name", "encoder", "decoder", "enc. params", "dec. params"):
        architectures_table.add_column(
            column, justify="right" if "params" in column else "left", no_wrap=True
        )
    architectures_table.add_column("description", ratio=1)
    for row in listing["architectures"]:
        architectures_table.add_row(
            row["name"],
            row.get("encoder", "?"),
            row.get("decoder", "?"),
            _count(row.get("encoder_params")),
            _count(row.get("decoder_params")),
            _describe(row),
        )
    others = [_registry_table(listing, kind) for kind in ALL_REGISTRIES if kind != "architectures"]
    return [architectures_table, *others]


def _registry_table(listing: dict[str, Any], kind: str) -> Any:
    """One registry's names (with parameter counts for networks) and descriptions."""
    from rich.table import Table

    table = Table(title=kind)
    table.add_column("name", no_wrap=True)
    if kind in ("encoders", "decoders"):
        table.add_column("params", justify="right", no_wrap=True)
    table.add_column("description", ratio=1)
    for row in listing[kind]:
        cells = [row["name"]]
        if "params" in row:
            cells.append(_count(row["params"]))
        table.add_row(*cells, _describe(row))
    if not listing[kind]:
        table.add_row(*(["(none registered yet)"] + [""] * (len(table.columns) - 1)))
    return table


def _count(value: int | None) -> str:
    """A parameter count with thousands separators, ``?`` where it failed."""
    return "?" if value is None else f"{value:,}"


def _describe(row: dict) -> str:
    """A row's description, or in red why its builder failed (a plugin's bug)."""
    if "error" in row:
        return f"[red]broken: {row['error']}[/red]"
    return row["description"]
