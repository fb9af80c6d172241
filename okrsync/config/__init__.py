"""The config contract: the core model, loading with located errors, env references, the schema.

model     cycle, metrics, OKRs, KPIs, schedule, thresholds (connector keys live with connectors)
load      YAML -> Config, every problem as file:line: key.path: message
bind      connections, metric keys and outputs validated by the registered connector's models
checks    references between sections, duplicate ids, circles
env       ${ENV} references, resolved only when a connection is opened
schema    the JSON Schema, built from the registry
"""

from okrsync.config.env import env_refs, resolve_env
from okrsync.config.load import load_config, parse_config
from okrsync.config.model import (
    BOUND_KINDS,
    DEFAULT_CONFIG,
    Config,
    Cycle,
    Duration,
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
from okrsync.config.schema import json_schema

__all__ = [
    "BOUND_KINDS",
    "DEFAULT_CONFIG",
    "Config",
    "Cycle",
    "Duration",
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
    "json_schema",
    "load_config",
    "parse_config",
    "resolve_env",
]
