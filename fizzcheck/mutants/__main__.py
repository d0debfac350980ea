from fizzcheck.cli.mutants import main

raise SystemExit(main())
