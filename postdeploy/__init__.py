"""postdeploy: the post-deployment checklist as pytest checks.

The library half (clients, checks, catalog, verdicts) works without pytest. A check is a
function returning a Result; here the p95 check (item 6) asks a Prometheus that answers a p95
of 612 ms over 500 requests (an httpx mock transport stands in for the server at `url`):

    >>> import httpx
    >>> from postdeploy.config import Prometheus, Thresholds
    >>> from postdeploy.sources.promql import PromClient
    >>> from postdeploy.checks.metrics import Window, latency_p95
    >>> def answer(request):
    ...     value = "0.612" if "quantile" in str(request.url) else "500"
    ...     sample = {"metric": {}, "value": [1700000000, value]}
    ...     return httpx.Response(200, json={"status": "success", "data": {"resultType": "vector", "result": [sample]}})
    >>> fake = httpx.MockTransport(answer)
    >>> prom = PromClient(Prometheus(url="http://127.0.0.1:9090", job="amani-backend"), transport=fake)
    >>> result = latency_p95(prom, "amani-backend", Window(900), Thresholds())
    >>> prom.close()
    >>> print(result.summary)
    p95 612 ms over 500 requests is above 500 ms

What a failure means and what to do next come from the catalog of checks:

    >>> from postdeploy import catalog
    >>> catalog.get("latency.p95").severity, catalog.advice("latency.p95") == result.advice
    ('major', True)

With pytest, the same function runs as a check: see "Writing a check" in the README.
"""

from __future__ import annotations

__version__ = "0.1.0"
