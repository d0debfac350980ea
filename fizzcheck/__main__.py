from fizzcheck.cli import main

raise SystemExit(main())
