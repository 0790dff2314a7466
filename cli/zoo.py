"""``mnist-vae zoo``: what is registered, with parameter counts (for ``ModelConfig``'s
--latent-dim, as declared there)."""

from __future__ import annotations

import json

import click

from mnist_vae.cli.errors import handle_errors
from mnist_vae.cli.options import debug_option, declared_option
from mnist_vae.settings import record_specs


@click.command(context_settings={"show_default": True})
@declared_option(record_specs()["latent_dim"], help="Latent size for the parameter counts.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@debug_option
@handle_errors
def zoo(latent_dim: int, as_json: bool) -> None:
    """List registered architectures, networks, strategies, likelihoods and optimizers."""
    from mnist_vae.models.registry_listing import zoo_listing, zoo_tables

    listing = zoo_listing(latent_dim)
    if as_json:
        click.echo(json.dumps(listing, indent=2))
        return
    from rich.console import Console

    console = Console()
    for table in zoo_tables(listing, latent_dim):
        console.print(table)
    failures = listing["plugin_failures"]
    for name, reason in failures.items():
        console.print(f"[yellow]plugin {name!r} failed to load: {reason}[/yellow]")
