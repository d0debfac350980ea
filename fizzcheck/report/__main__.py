"""``python -m fizzcheck.report report|compare``: the report commands without the rest of the CLI."""

from fizzcheck.cli.report import main

raise SystemExit(main())
