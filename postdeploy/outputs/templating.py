"""HTML from the package's jinja2 templates (postdeploy/outputs/templates/): escaped and redacted by construction.

Every page or fragment the suite writes as HTML (the report's summary, the charts, the watch
table, the timeline) is a template rendered here, never an f-string. The environment
autoescapes every value, so a check message or a target's answer holding `<script>` shows as
text; every value also passes through `redact()` before it is escaped (a secret holding `&` or
`<` is masked before escaping changes its spelling), and the rendered text once more.
A fragment made by another template goes in with `|safe`, nothing else does.

jinja2 is imported on the first render only, at session end: collecting a phase does not load it.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from postdeploy.core.redaction import redact

if TYPE_CHECKING:
    import jinja2


def _finalize(value: Any) -> Any:
    """Redact a value printed by `{{ ... }}`; a fragment already rendered (`|safe`) is left as it is."""
    if hasattr(value, "__html__"):  # markupsafe's protocol: already HTML
        return value
    return redact(str(value))


@cache
def environment() -> jinja2.Environment:
    """The one jinja2 environment of the suite: autoescape on, undefined names an error."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("postdeploy.outputs", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize,
    )


def render(name: str, **context: Any) -> str:
    """Render the template `name` (a file in postdeploy/outputs/templates/) with `context`; return redacted HTML."""
    return redact(environment().get_template(name).render(**context))
