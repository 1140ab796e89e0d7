"""``python -m enact``: the enact command."""

from enact._cli import main

raise SystemExit(main())
