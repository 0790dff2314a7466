"""Root ``mnist-vae`` group. Commands load on demand, so ``--help`` is instant."""

from __future__ import annotations

import importlib
import os
import sys

import click

from mnist_vae import __version__
from mnist_vae.errors import MnistVaeError, UsageError
from mnist_vae.versions import version_line

# command name -> its one line in --help. Each is the attribute of the same name of
# the module of the same name (mnist_vae.cli.train:train), loaded only when the command
# runs or shows its help.
COMMANDS = {
    "train": "Train a VAE and write a run directory.",
    "sample": "Draw digits from a trained run.",
    "zoo": "List registered architectures, strategies and more.",
    "data": "Find MNIST (fetching it if needed) and say where it came from.",
    "export": "Export a run as a TensorFlow SavedModel or TFLite model.",
    "evaluate": "ELBO, IWAE bound, reconstruction error and sample quality of a run.",
    "compare": "A table of several runs' metrics.",
    "benchmark": "Benchmarks: VAE-made data for a classifier; test NLL beside the papers.",
    "clean": "List, and remove, what killed mnist-vae processes left behind.",
    "pretrained": "The trained models shipped with mnist-vae (pretrained:NAME).",
}


class LazyGroup(click.Group):
    """Imports a command's module only when that command is invoked or asked for help."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        return getattr(importlib.import_module(f"mnist_vae.cli.{name}"), name)

    def summaries(self, ctx: click.Context) -> list[tuple[str, str]]:
        """(name, one line) of each command, as ``--help`` and docs/cli.md list them."""
        return [(name, COMMANDS[name]) for name in self.list_commands(ctx)]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl(self.summaries(ctx))

    def resolve_command(self, ctx, args):
        name = args[0] if args else None
        if name is not None and name not in COMMANDS and not name.startswith("-"):
            import difflib

            close = difflib.get_close_matches(name, COMMANDS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise click.UsageError(
                f"no such command {name!r}{hint} (commands: {', '.join(sorted(COMMANDS))})"
            )
        return super().resolve_command(ctx, args)

    def main(self, *args, **kwargs):
        """Print every usage error as one line (click prints three) and keep its exit code."""
        kwargs["standalone_mode"] = False
        try:
            result = super().main(*args, **kwargs)
        except click.exceptions.Exit as done:
            sys.exit(done.exit_code)
        except click.exceptions.NoArgsIsHelpError as error:  # a bare group: its help, as is
            error.show()
            sys.exit(error.exit_code)
        except click.ClickException as error:
            hint = ""
            if isinstance(error, click.UsageError) and error.ctx is not None:
                hint = f" (see '{error.ctx.command_path} --help')"
            click.echo(f"Error: {error.format_message()}{hint}", err=True)
            from mnist_vae.cli.errors import WriteFailed

            if isinstance(error, WriteFailed) and sys.stdout is sys.__stdout__:
                sys.stdout.flush()  # a process of its own (not a test's CliRunner): end
                sys.stderr.flush()  # now, before HDF5's exit handler meets the failed file
                os._exit(error.exit_code)
            sys.exit(error.exit_code)
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(130)
        except MnistVaeError as error:  # raised while a command loads (e.g. a wrong backend)
            from mnist_vae.cli.errors import shows_traceback

            # A command's --debug lets its errors through handle_errors: show them whole.
            if os.environ.get("MNIST_VAE_DEBUG") == "1" or shows_traceback(error):
                raise
            click.echo(f"Error: {error}", err=True)
            sys.exit(2 if isinstance(error, UsageError) else 1)
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mnist-vae", message=version_line(__version__))
def cli() -> None:
    """Variational autoencoders for MNIST: train, sample and inspect the model zoo.

    \b
    Quick start:
      mnist-vae train --arch net1 --strategy vae --out runs/net1
      mnist-vae sample runs/net1 --digit 3
    """


if __name__ == "__main__":  # pragma: no cover
    cli()
