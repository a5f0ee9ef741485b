"""``python -m ssrauth``: the same command line as the ``ssrauth`` script."""

from ssrauth.cli import main

raise SystemExit(main())
