"""The config contract: the core model, loading with located errors, env references, the schema.

    model     cycle, metrics, OKRs, KPIs, schedule, thresholds (connector keys live with connectors)
    load      YAML -> Config, every problem as file:line: key.path: message  (load_config, parse_config)
    bind      connections, metric keys and outputs validated by the registered connector's models
    checks    references between sections, duplicate ids, circles
    env       ${ENV} references, resolved only when a connection is opened
    schema    the JSON Schema, built from the registry  (json_schema)

This front re-exports the model and env only: ``load`` and ``schema`` need the connector registry,
which itself builds on the model, so importing them here would make a cycle.
"""

from okrsync.config.env import env_refs, resolve_env
from okrsync.config.model import (
    BOUND_KINDS,
    DEFAULT_CONFIG,
    Config,
    Cycle,
    Duration,
    Expect,
    HealthyRange,
    KeyResult,
    Kpi,
    Metric,
    Objective,
    Phase,
    Schedule,
    StatusThresholds,
    Strict,
)

__all__ = [
    "BOUND_KINDS",
    "DEFAULT_CONFIG",
    "Config",
    "Cycle",
    "Duration",
    "Expect",
    "HealthyRange",
    "KeyResult",
    "Kpi",
    "Metric",
    "Objective",
    "Phase",
    "Schedule",
    "StatusThresholds",
    "Strict",
    "env_refs",
    "resolve_env",
]
