"""``python -m fizzcheck``: the ``fizzcheck`` command line."""

from fizzcheck.cli.app import main

raise SystemExit(main())
