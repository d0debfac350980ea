"""The command line: ``fizzcheck verify | run | bench | train | report | compare | mutants | compat``.

:mod:`~fizzcheck.cli.app` is the entry point (``main``) and the click group; each other module
holds its commands; :mod:`~fizzcheck.cli.options` the argument types they share and
:mod:`~fizzcheck.cli.invoke` the one-line error handling. The pytest command lines come from
:mod:`fizzcheck.suite`, which the workflows (``mutants``, ``compat``) share.
"""

from fizzcheck.cli.app import main

__all__ = ["main"]
