"""The ``mnist-vae`` command line: a root group and one module per command."""
