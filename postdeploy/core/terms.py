"""The words every part of a run shares, defined once: phases, severities, verdicts and their colours.

No imports: the markers, the configuration, the verdict and every output read them from here.
"""

from __future__ import annotations

# The guide's phases, in the order a deployment goes through them.
PHASES = ("pre_deploy", "first15", "first_hour", "first_24h", "daily", "weekly")
# A check's severity: critical (a failure means rollback), major (issues), minor (recorded only).
SEVERITIES = ("critical", "major", "minor")
# A run's verdict, from best to worst, then "no verdict to act on".
VERDICTS = ("success", "issues", "rollback", "incomplete")
# The colour each verdict is shown in (reports, the timeline); anything else is grey.
VERDICT_COLOURS = {"success": "#2e7d32", "issues": "#ef6c00", "rollback": "#c62828", "incomplete": "#555"}
