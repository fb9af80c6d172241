"""`okrsync`: the front door. Parses arguments, calls the sync or the store, presents results.

app               the typer app, options, the clock reading and ``--as-of`` parsing
main              the one catch at the top (exit codes); registers the commands of the modules below;
                  run: the program (main, then a quick exit)
views             the status tree, run summary and history table (presentation only)
outline           a rich Tree drawn a line at a time (the status trees)
company_status    status --all: the teams, the aligned objectives, every objective or KR
commands          validate, run, status, history, override, connections test, schema, init
days_commands     runs (and runs delete), accept, backfill: the stored days
cycle_commands    cycle next
report_commands   report
prefect_commands  deploy, serve
"""

from okrsync.cli.app import app
from okrsync.cli.main import main, run

__all__ = ["app", "main", "run"]
