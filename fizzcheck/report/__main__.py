from fizzcheck.report.cli import main

raise SystemExit(main())
