"""The run directory: its format (written and read in ``format``) and its figures.

``load_run`` reads a finished run (or a shipped one, ``pretrained:NAME``);
``write_run_files`` writes the JSON half of one; ``mnist_vae.runs.figures`` draws
arrays into the run's PNGs; ``pretrained`` opens the shipped models.
"""

from mnist_vae.runs.format import RUN_FORMAT, Run, load_run, write_run_files


def load_pretrained(name: str):
    """The shipped model ``name`` (``mnist-vae pretrained`` lists them) as a Keras model,
    offline; ``load_run("pretrained:NAME")`` gives its whole run."""
    from mnist_vae.runs.pretrained import PREFIX

    return load_run(PREFIX + name).load_model()


__all__ = ["RUN_FORMAT", "Run", "load_pretrained", "load_run", "write_run_files"]
