"""``mnist-vae zoo``: what is registered, with parameter counts."""

from __future__ import annotations

import json

import click

from mnist_vae.cli.errors import handle_errors
from mnist_vae.cli.options import debug_option


@click.command(context_settings={"show_default": True})
@click.option(
    "--latent-dim",
    type=click.IntRange(min=1, max=4096),
    default=2,
    help="Latent size for the parameter counts.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@debug_option
@handle_errors
def zoo(latent_dim: int, as_json: bool) -> None:
    """List registered architectures, networks, strategies, likelihoods and optimizers."""
    from mnist_vae.models.registry_listing import zoo_listing

    listing = zoo_listing(latent_dim)
    if as_json:
        click.echo(json.dumps(listing, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    architectures = Table(title=f"architectures (parameters at latent_dim={latent_dim})")
    for column in ("name", "encoder", "decoder", "enc. params", "dec. params"):
        architectures.add_column(
            column, justify="right" if "params" in column else "left", no_wrap=True
        )
    architectures.add_column("description", ratio=1)
    for row in listing["architectures"]:
        architectures.add_row(
            row["name"],
            row.get("encoder", "?"),
            row.get("decoder", "?"),
            _count(row.get("encoder_params")),
            _count(row.get("decoder_params")),
            _describe(row),
        )
    console.print(architectures)
    from mnist_vae.registry import ALL_REGISTRIES

    for kind in (name for name in ALL_REGISTRIES if name != "architectures"):
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
        console.print(table)
    failures = listing["plugin_failures"]
    for name, reason in failures.items():
        console.print(f"[yellow]plugin {name!r} failed to load: {reason}[/yellow]")


def _count(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def _describe(row: dict) -> str:
    if "error" in row:
        return f"[red]broken: {row['error']}[/red]"
    return row["description"]
