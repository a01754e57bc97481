"""Root conftest of the suite.

The postdeploy plugin is loaded through its `pytest11` entry point (pip install -e .),
never from here, so that it is not loaded twice. Put fixtures that override the
plugin's (`api`, `db`, `prom`, `logs`, `sentry`, `deployment`) for one site here.
"""
