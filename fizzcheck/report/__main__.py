from fizzcheck.cli.report import main

raise SystemExit(main())
