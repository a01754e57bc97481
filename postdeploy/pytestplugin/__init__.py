"""The pytest glue only: the plugin (entry point `pytest11`), fixtures, markers, the run keeper,
reporting hooks, the watch plugin, scope, state, start-up checks and what happens once a run is final.

The top of the layering: nothing else in postdeploy imports it (type hints aside).
"""
