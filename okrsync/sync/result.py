"""What a sync made: its run, what it computed, what it wrote, and why it did not publish."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from okrsync.errors import SinkError, SourceError
from okrsync.okr.results import Evaluation
from okrsync.okr.status import StatusDocument
from okrsync.sdk.connector import Heard, Observation
from okrsync.sync.compute import Computed

DEFAULT_WAIT = 120.0  # seconds a run waits for another run of the same config before giving up


@dataclass
class SyncResult:
    run_id: int | None
    computed: Computed
    writes: list[str] = field(default_factory=list)
    output_errors: list[SinkError] = field(default_factory=list)
    dry_run: bool = False
    unpublished: str | None = None  # why the outputs were not written (a newer day is already stored)
    later_days: list[date] = field(default_factory=list)  # stored days after this one, evaluated again
    heard: list[Heard] = field(default_factory=list)  # what people wrote where the outputs write: kept after publish

    @property
    def document(self) -> StatusDocument:
        return self.computed.document

    @property
    def evaluation(self) -> Evaluation:
        return self.computed.evaluation

    @property
    def fetched(self) -> dict[str, Observation]:
        return self.computed.values

    @property
    def errors(self) -> dict[str, SourceError]:
        return self.computed.errors

    @property
    def history(self) -> dict[str, list]:  # metric -> [[iso time, value]]: report charts
        return self.computed.history

    @property
    def exit_code(self) -> int:
        """0 all good, 1 the sync completed but a source or an output failed."""
        return 1 if self.errors or self.output_errors else 0
