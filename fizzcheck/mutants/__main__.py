"""``python -m fizzcheck.mutants run|compat|list``."""

from fizzcheck.cli.mutants import main

raise SystemExit(main())
