"""The index of the built-in registrations (mnist_vae/zoo/index.json): current with the
zoo, and set aside once the registry is loaded or a plugin is installed."""

from __future__ import annotations


def test_the_index_is_what_the_zoo_registers():
    """mnist_vae/zoo/index.json, which --help and completion read, regenerated and compared."""
    from mnist_vae.registry_index import WRITE_COMMAND, index_path, live_index, render

    assert index_path().read_text(encoding="utf-8") == render(live_index()), (
        f"{index_path()} differs from the registries: run {WRITE_COMMAND}"
    )


def test_names_come_from_the_registry_once_loaded_or_with_plugins_installed(monkeypatch):
    from mnist_vae import registry
    from mnist_vae.registry_index import load_index, registered_names

    index = load_index()["registries"]["strategies"]
    with registry.strategies.temporary(lambda *args: None, name="my_plugin_vae"):
        monkeypatch.setattr(registry, "is_loaded", lambda: False)
        monkeypatch.setattr(registry, "plugins_installed", lambda: False)
        assert registered_names("strategies") == index  # what a fresh process offers
        monkeypatch.setattr(registry, "plugins_installed", lambda: True)
        assert "my_plugin_vae" in registered_names("strategies")


def test_check_fails_on_a_stale_index_until_write_rewrites_it(tmp_path, monkeypatch, capsys):
    from mnist_vae import registry_index

    stale = tmp_path / "index.json"
    stale.write_text("{}\n", encoding="utf-8")
    monkeypatch.setattr(registry_index, "index_path", lambda: stale)
    assert registry_index.main(["--check"]) == 1
    assert registry_index.WRITE_COMMAND in capsys.readouterr().err
    assert registry_index.main(["--write"]) == 0
    assert registry_index.main(["--check"]) == 0
    assert registry_index.main([]) == 2
