"""Shared by every part of the sandbox: paths and fixed names (``state``), password hashes and
tokens (``auth``), and the small threaded HTTP server the stand-ins and the control API use.
"""
