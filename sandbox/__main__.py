"""``python -m sandbox up | down | status | fault NAME | heal``: the command line is sandbox.control.cli."""

import sys

from sandbox.control.cli import main

sys.exit(main())
