"""The run model: outcomes, the record and its codec, the pytest channel, the verdict, the budget,
past runs, attestations and the time bounds of a phase.

Imports postdeploy.catalog, postdeploy.config and postdeploy.core, never pytest glue or outputs.
"""
