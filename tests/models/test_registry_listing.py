"""mnist-vae zoo's tables: one for the architectures, one for each other registry."""

from __future__ import annotations

from mnist_vae.models.registry_listing import zoo_tables
from mnist_vae.registry import ALL_REGISTRIES


def test_a_table_per_registry_with_counts_and_broken_builders():
    listing = {kind: [] for kind in ALL_REGISTRIES}
    listing["architectures"] = [
        {"name": "a", "encoder": "e", "decoder": "d", "encoder_params": 12345, "description": "x"}
    ]
    listing["encoders"] = [{"name": "bad", "params": None, "error": "ValueError: no"}]
    tables = zoo_tables(listing, latent_dim=8)
    assert [t.title for t in tables] == [
        "architectures (parameters at latent_dim=8)",
        *(kind for kind in ALL_REGISTRIES if kind != "architectures"),
    ]
    architectures = {c.header: list(c.cells) for c in tables[0].columns}
    assert architectures["enc. params"] == ["12,345"] and architectures["dec. params"] == ["?"]
    encoders = next(t for t in tables if t.title == "encoders")
    assert [list(c.cells) for c in encoders.columns] == [
        ["bad"],
        ["?"],
        ["[red]broken: ValueError: no[/red]"],
    ]
    decoders = next(t for t in tables if t.title == "decoders")
    assert list(decoders.columns[0].cells) == ["(none registered yet)"]
