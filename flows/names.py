"""Names Prefect accepts, made from any valid namespace: deployment names and artifact keys.

A namespace is any text of 1 to 100 characters (it separates teams in the store), but Prefect refuses
``/ % & < >`` in a deployment name, and a name such as ``..`` or ``a?b`` would change the meaning of
the URL ``/deployments/name/okrsync-sync/<name>`` its client reads. So a namespace of letters, digits,
``-``, ``_`` and ``.`` (not dots alone) names its deployment itself (``team-a`` -> ``okrsync-sync/team-a``,
as before); any other becomes
a readable slug plus 8 hex digits of the namespace's SHA-256 (``a/b`` -> ``a-b-<hash>``). The name
depends on the namespace alone, so ``deploy``, ``deploy --dry-run`` and ``serve`` always agree, and two
namespaces never share one. The namespace itself is kept in the tag ``namespace:<namespace>``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

SAFE_NAME = re.compile(r"(?!\.+$)[A-Za-z0-9_.-]+")  # never "." or "..": URL path segments of their own
UNSAFE_RUN = re.compile(r"[^A-Za-z0-9_-]+")
SLUG_LENGTH = 60


def deployment_name(namespace: str) -> str:
    """The deployment's name for ``namespace`` (under the flow ``okrsync-sync``)."""
    if SAFE_NAME.fullmatch(namespace):
        return namespace
    return f"{_slug(namespace)}-{_digest(namespace)}"


def artifact_key(namespace: str) -> str:
    """``okrsync-<namespace>`` when that is already a valid artifact key (lowercase letters, digits,
    dashes), else ``okrsync-<slug>-<hash>``: unique per namespace, as artifact keys group runs."""
    if re.fullmatch(r"[a-z0-9-]+", namespace):
        return f"okrsync-{namespace}"
    return f"okrsync-{_slug(namespace).lower().replace('_', '-')}-{_digest(namespace)}"


def _slug(namespace: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", namespace).encode("ascii", "ignore").decode()
    return UNSAFE_RUN.sub("-", ascii_text).strip("-")[:SLUG_LENGTH].strip("-") or "namespace"


def _digest(namespace: str) -> str:
    return hashlib.sha256(namespace.encode()).hexdigest()[:8]
