"""What runs the sandbox: the command line (``cli``), the supervisor and its control API, the
fault registry (``faults``), the app as a child process (``deploy``), the services stack,
state.json and /status (``report``), and the clean-up after a crash.
"""
