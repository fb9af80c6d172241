"""Manual KR values: once (the next fetching sync replaces it) or sticky (until cleared).

A manual value obeys the rule of a fetched one (okrsync.okr.numbers.checked): finite and within ±LIMIT.
The command line says so first; the store refuses anything else too, so a value that would fail
every later run (an infinity cannot be written as JSON) is never stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from okrsync.okr.numbers import checked
from okrsync.store import tables as t
from okrsync.store.engine import Database, aware, utc


@dataclass(frozen=True)
class OverrideRow:
    id: int
    kr_id: str
    value: float
    sticky: bool
    note: str | None
    created_at: datetime
    manual: bool = False  # recorded for a key result without a metric (its only value)


class Overrides(Database):
    def add_override(
        self,
        namespace: str,
        kr_id: str,
        value: float,
        sticky: bool,
        note: str | None,
        now: datetime,
        *,
        manual: bool = False,
    ) -> None:
        """A new override ends any active one for the same KR. ValueError (and nothing stored) for a value
        that is not finite or lies beyond ±LIMIT. ``manual``: recorded for a key result without a metric, so
        it stops counting once the key result names one."""
        try:
            value = checked(float(value))
        except (ValueError, OverflowError) as exc:  # OverflowError: an int too large for a float
            raise ValueError(f"override of {kr_id}: {exc}") from None
        with self._tx() as conn:
            conn.execute(
                t.overrides.update()
                .where(
                    t.overrides.c.namespace == namespace, t.overrides.c.kr_id == kr_id, t.overrides.c.ended_at.is_(None)
                )
                .values(ended_at=utc(now), ended_by="superseded")
            )
            conn.execute(
                t.overrides.insert().values(
                    namespace=namespace,
                    kr_id=kr_id,
                    value=value,
                    sticky=sticky,
                    note=note,
                    created_at=utc(now),
                    manual=manual,
                )
            )

    def end_overrides(
        self,
        namespace: str,
        now: datetime,
        *,
        kr_id: str | None = None,
        once_only: bool = False,
        reason: str = "cleared",
    ) -> int:
        q = t.overrides.update().where(t.overrides.c.namespace == namespace, t.overrides.c.ended_at.is_(None))
        if kr_id is not None:
            q = q.where(t.overrides.c.kr_id == kr_id)
        if once_only:
            q = q.where(t.overrides.c.sticky.is_(False))
        with self._tx() as conn:
            return conn.execute(q.values(ended_at=utc(now), ended_by=reason)).rowcount

    def active_overrides(self, namespace: str) -> dict[str, OverrideRow]:
        q = sa.select(t.overrides).where(t.overrides.c.namespace == namespace, t.overrides.c.ended_at.is_(None))
        with self._tx() as conn:
            return {
                r.kr_id: OverrideRow(r.id, r.kr_id, r.value, r.sticky, r.note, aware(r.created_at), r.manual)
                for r in conn.execute(q.order_by(t.overrides.c.created_at))
            }
