"""Entry point of the app process: ``python -m sandbox.app --port P ...``."""

import sys

from sandbox.app.service import serve

sys.exit(serve())
