"""postdeploy: the post-deployment checklist as pytest checks.

The library half (clients, thresholds, verdicts) works without pytest:

    >>> from postdeploy.config import load_environment
    >>> env = load_environment("local")
    >>> from postdeploy.promql import PromClient
    >>> PromClient.from_config(env.prometheus).query("up")
"""

from __future__ import annotations

__version__ = "0.1.0"
