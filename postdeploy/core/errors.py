"""The errors postdeploy raises, as one tree.

    PostdeployError
    ├── ConfigError            the environment file, an option or a secret is wrong:
    │                          the run cannot start (pytest usage error, exit code 4)
    └── TargetError            a target could not be asked: it is down, hangs or
        │                      answers something that is not what the contract says
        ├── TargetUnreachable  connection refused, DNS failure, TLS failure
        ├── TargetTimeout      connected, but no answer within the timeout
        └── BadResponse        an answer, but not the shape that was due
                               (HTML where JSON was due, a Prometheus error payload)

A TargetError inside a check is a failed check (the target misbehaves), never an
internal error of the suite; a ConfigError is neither: the run does not start.
"""

from __future__ import annotations


class PostdeployError(Exception):
    """Root of every error postdeploy raises on purpose."""


class ConfigError(PostdeployError):
    """The configuration is wrong; the message names its source."""


class TargetError(PostdeployError):
    """A target (API, database, Prometheus, logs, Sentry) could not be asked."""

    def __init__(self, message: str, *, target: str = "") -> None:
        super().__init__(message)
        self.target = target


class TargetUnreachable(TargetError):
    """The target refused the connection or could not be found."""


class TargetTimeout(TargetError):
    """The target accepted the connection but did not answer in time."""


class BadResponse(TargetError):
    """The target answered, but not in the shape the contract promises."""
