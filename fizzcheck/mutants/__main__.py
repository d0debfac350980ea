from fizzcheck.mutants.cli import main

raise SystemExit(main())
