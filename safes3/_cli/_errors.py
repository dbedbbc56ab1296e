"""How the command line ends: every error becomes one stderr line and an exit code.

This is the only place the CLI turns exceptions into exit codes, so the
table in ``docs/cli.md`` is kept here: 1 when an operation failed (a safes3
refusal, an answer from the store, a network, TLS or file error), 2 for bad
usage (argparse's own errors and :class:`UsageError` from a command's
checks), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from botocore.exceptions import ClientError

from safes3._boundary import boundary, describe
from safes3._exceptions import ConfigurationError, SafeS3Error

__all__ = ["EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "UsageError", "run"]

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(ConfigurationError):
    """The command line asks for something no setting can make valid: exit 2."""


def run(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """``command(args)``'s exit code, or the code of what it raised (after saying what)."""
    try:
        with boundary(f"safes3 {getattr(args, 'command', None) or 'command'}", into=SafeS3Error):
            return command(args)
    except KeyboardInterrupt:
        print("safes3: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except UsageError as exc:
        print(f"safes3: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SafeS3Error as exc:
        print(f"safes3: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except ClientError as exc:
        said = exc.response.get("Error", {}).get("Message")
        print(
            f"safes3: error: the store answered {describe(exc)}" + (f": {said}" if said else ""),
            file=sys.stderr,
        )
        return EXIT_ERROR
