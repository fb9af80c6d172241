"""What a sync reads of the other namespaces of its cycle: their objectives, not their key results.

Each team's sync rolls in the objectives of other configs that name one of its objectives as parent, and notes
a parent it cannot find (okrsync.okr.alignment: ``aligned_children`` and ``parent_findings``). Both read, of
each other namespace's latest finished document, only its objectives' own fields (id, parent, weight,
progress, expected, status, levels_only): never a key result, a KPI or an error. At 100 teams of 200 key
results those are 95 % of 100 documents of 160 kB each, so each document is cut down to its objectives as it
is read: the sync builds 10 kB a team, not 160 kB. The documents the company view shows whole (``status --all``,
``report --all``) are read by ``Runs.latest_runs``.
"""

from __future__ import annotations

import json
from datetime import date

import sqlalchemy as sa

from okrsync.store import tables as t
from okrsync.store.engine import Database
from okrsync.store.runs import newest_finished

# SQLite cuts each document down in C (json_each, json_remove: 41 ms for 20 documents, against 67 ms to fetch them
# whole and parse them in Python); on PostgreSQL the document as text, cut down here, took a fifth of the time of
# the same cut in jsonb there (each 160 kB document converted to jsonb first: 1.05 s against 0.2 s for 100)
_SQLITE_OBJECTIVES = (
    "(SELECT json_group_array(json(json_remove(o.value, '$.key_results'))) "
    "FROM json_each(runs.document, '$.objectives') AS o)"
)
_SQLITE_DOCUMENT = f"json_set(json_remove(runs.document, '$.kpis', '$.errors'), '$.objectives', {_SQLITE_OBJECTIVES})"


class Company(Database):
    def latest_objectives(
        self, cycle: str, *, until_day: date | None = None, but: str | None = None
    ) -> dict[str, dict]:
        """The latest finished document of every namespace in ``cycle`` (up to ``until_day``; all but ``but``),
        each with its objectives and their own fields only: no key results, KPIs or errors (empty lists)."""
        r = t.runs.c
        if self.engine.dialect.name == "postgresql":
            document: sa.ColumnElement = sa.cast(r.document, sa.Text)
        else:
            document = sa.literal_column(_SQLITE_DOCUMENT)
        q = sa.select(r.namespace, document.label("document")).select_from(newest_finished(cycle, until_day))
        if but is not None:
            q = q.where(r.namespace != but)
        with self._tx() as conn:
            rows = conn.execute(q.order_by(r.namespace)).all()
        return {namespace: _objectives_only(json.loads(text)) for namespace, text in rows}


def _objectives_only(document: dict) -> dict:
    """The document with its objectives' own fields only (what SQLite's query already left)."""
    objectives = [{k: v for k, v in o.items() if k != "key_results"} for o in document.get("objectives", [])]
    return document | {"objectives": objectives, "kpis": [], "errors": []}
