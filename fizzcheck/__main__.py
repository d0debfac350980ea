from fizzcheck.cli.app import main

raise SystemExit(main())
