"""Turn library exceptions into one-line messages and the right exit codes."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import click

from mnist_vae.errors import MnistVaeError, UsageError, first_line


def handle_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Usage errors exit 2, runtime errors exit 1; tracebacks only with --debug."""

    @functools.wraps(command)
    def wrapper(*args: Any, debug: bool = False, **kwargs: Any) -> Any:
        debug = debug or os.environ.get("MNIST_VAE_DEBUG") == "1"
        try:
            return command(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except UsageError as error:
            if debug:
                raise
            raise click.UsageError(str(error)) from None
        except MnistVaeError as error:
            if debug:
                raise
            raise click.ClickException(str(error)) from None
        except KeyboardInterrupt:
            raise click.exceptions.Abort() from None
        except Exception as error:  # unexpected: say what, offer the traceback
            if debug:
                raise
            message = first_line(error) if str(error).strip() else ""
            raise click.ClickException(
                f"unexpected {type(error).__name__}: {message} "
                "(rerun with --debug for the traceback)"
            ) from None

    return wrapper
