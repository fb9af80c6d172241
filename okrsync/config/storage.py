"""The ``store:`` key: the store's URL, alone or with how many cycles a namespace keeps (docs/production.md,
"Keeping old cycles")."""

from __future__ import annotations

from pydantic import ConfigDict, Field, model_validator

from okrsync.config.types import Strict


def _store_url_or_mapping(schema: dict) -> None:
    """``store:`` is written as a URL alone, or as a mapping with its settings (the URL under ``url``)."""
    mapping = dict(schema)
    schema.clear()
    schema.update(
        title=mapping.pop("title", "StoreSettings"),
        description=mapping.pop("description", ""),
        anyOf=[{"type": "string", "description": "the store's SQLAlchemy URL"}, mapping],
    )


class StoreSettings(Strict):
    """The store (``store:``): its URL, written alone (``store: sqlite:///okrsync.db``) or as ``url:`` of a
    mapping that also says how many cycles a namespace keeps in it (``keep_cycles``): a sync archives its
    namespace's older cycles to a file in ``archive`` (docs/production.md, "Keeping old cycles")."""

    model_config = ConfigDict(json_schema_extra=_store_url_or_mapping)
    url: str = Field(
        "sqlite:///okrsync.db", description="a SQLAlchemy URL; relative to the config file; OKRSYNC_STORE_URL overrides"
    )
    keep_cycles: int | None = Field(
        None,
        ge=1,
        description="cycles of this namespace kept in the store, the current one counted (default: all); a sync "
        "writes older ones to an archive file, checks it, then removes them",
    )
    archive: str = Field(
        "okrsync-archive", min_length=1, description="the folder for archived cycles, relative to the config file"
    )

    @model_validator(mode="before")
    @classmethod
    def _url_alone(cls, data: object) -> object:
        if isinstance(data, str):
            return {"url": data}
        if not isinstance(data, dict | StoreSettings):
            raise ValueError("expected the store's URL, or a mapping with url, keep_cycles and archive")
        return data
