"""The ground floor: errors, redaction, durations, the guide's terms, Result, gates and statistics.

Imports nothing else from postdeploy.
"""
