"""`python -m service.cli`: the same as the `merit` console script."""

from service.cli.main import main

raise SystemExit(main())
