"""The weekly check-in's keys (``checkin:``): the span ``okrsync checkin`` covers by default and its questions."""

from __future__ import annotations

from pydantic import Field

from okrsync.config.types import Strict


class CheckinPrompts(Strict):
    """The questions a check-in asks of an at-risk or off-track key result (``{kr}`` is its title); none for
    one on track. Defaults drawn from coaching practice."""

    at_risk: list[str] = Field(
        ["What is blocking {kr}?", "What would move {kr} by next week?"], description="asked of at-risk KRs"
    )
    off_track: list[str] = Field(
        ["What is blocking {kr}?", "What could we do differently to advance {kr}, or should its target change?"],
        description="asked of off-track KRs",
    )


class CheckinSettings(Strict):
    """The weekly check-in (``okrsync checkin``): the span it covers by default and its questions."""

    since_days: int = Field(7, ge=1, le=92, description="days since the previous check-in, by default")
    prompts: CheckinPrompts = CheckinPrompts()
