"""`python -m postdeploy`: see postdeploy.cli."""

from __future__ import annotations

import sys

from postdeploy.cli import main

sys.exit(main())
