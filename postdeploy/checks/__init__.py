"""The checks as plain functions: each asks its source and returns a `Result`.

They work without pytest (call them from a REPL at 3 a.m.); the test modules in
`tests_*/` only pick the clients, call these and judge the result.
"""
