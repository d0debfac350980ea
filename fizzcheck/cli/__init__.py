"""The command line: ``fizzcheck verify | run | bench | train | report | compare | mutants | compat``.

:mod:`~fizzcheck.cli.app` is the entry point (``main``); each other module adds its subcommands.
"""

from fizzcheck.cli.app import main

__all__ = ["main"]
