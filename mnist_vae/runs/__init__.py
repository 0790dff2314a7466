"""The run directory: its format (written and read in ``format``) and its figures.

``load_run`` reads a finished run; ``write_run_files`` writes the JSON half of one;
``mnist_vae.runs.figures`` draws arrays into the run's PNGs.
"""

from mnist_vae.runs.format import RUN_FORMAT, Run, load_run, write_run_files

__all__ = ["RUN_FORMAT", "Run", "load_run", "write_run_files"]
