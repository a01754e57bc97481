"""What the guide says to do next, per check (shown under a failure as "next:"): read from the catalog."""

from __future__ import annotations

from postdeploy.catalog import ROLLBACK, advice

__all__ = ["ROLLBACK", "advice"]
