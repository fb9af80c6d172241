"""What the local-file sources (csv, excel) share: a connection confined to its ``root:`` folder, and a metric
whose ``path`` stays inside it and whose rows may carry their own date (``date_column``: the cycle's window
then applies to its aggregates, and the metric can answer for a past day)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from okrsync.config.settings import ConnectionSettings, MetricParams


class FileConnection(ConnectionSettings):
    root: str = Field(".", description="the folder the files are read from, relative to the config file")


class DatedFileMetric(MetricParams):
    path: str = Field(description="a file, relative to the connection's root")
    date_column: str | None = Field(None, description="the rows' dates; rows dated after the as-of day are ignored")
    where: dict[str, str | int | float] = Field({}, description="keep only rows whose columns equal these values")

    def answers_for_past(self) -> bool:
        """Dated rows (``date_column``) say what was known on a past day."""
        return self.date_column is not None or super().answers_for_past()

    def reads_dated_rows(self) -> bool:
        return self.date_column is not None

    @field_validator("path")
    @classmethod
    def _inside_root(cls, path: str) -> str:
        if Path(path).is_absolute() or path.startswith("~") or ".." in Path(path).parts:
            raise ValueError(f"{path!r} must be a path inside the connection's root (relative, without ..)")
        return path
