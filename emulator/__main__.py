from emulator.tools.cli import main

raise SystemExit(main())
