"""What `okrsync validate` checks beyond the config's own rules, without the network and without
loading any connector's client library: each connection's settings say what they can check."""

from __future__ import annotations

from okrsync.config.model import Config


def preflight(config: Config) -> list[str]:
    """Offline problems of every connection, as "connections.<name>.<key>: problem"."""
    out = []
    for name, settings in config.connections.items():
        found = settings.preflight(config.base_dir)
        out += [f"connections.{name}{'.' + key if key else ''}: {problem}" for key, problem in found]
    return out
