"""`okrsync`: the front door. Parses arguments, calls the pipeline or the store, presents results.

app       the typer app, options, the clock reading, the one catch at the top (exit codes)
views     the status tree, run summary and history table (presentation only)
commands  validate, run, status, history, override, connections test, schema, init
"""

from okrsync.cli.app import app
from okrsync.cli.main import main

__all__ = ["app", "main"]
