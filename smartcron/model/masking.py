"""Secrets hidden from what smartcron shows: a setting declares how its value is secret (the
`mask` key of its metadata in config.py) and `masked` hides that part, so `smartcron config
show` can be pasted into a ticket.

The kinds: "value" (all of it: secret_key), "password" (a URL's password and secret-like query
parameters: database_url), "endpoint" (all but the scheme and host: a heartbeat URL is its own
credential), "channels" (a table of apprise URLs, whose tokens are often in the host part).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

HIDDEN = "***"
# Query parameters whose values are credentials (ssl_key is a path, but harmless to hide).
_SECRET_WORD = re.compile(r"pass|secret|token|key|auth|cred|sig", re.IGNORECASE)
# apprise schemes whose host part is a host name; every other scheme may carry a token there
# (slack://TokenA/TokenB, tgram://bottoken/chat, discord://id/token, ntfy://topic...).
_HOST_SCHEMES = {"json", "jsons", "xml", "xmls", "form", "forms", "mailto", "mailtos"}


def _netloc(parts: Any, *, keep_user: bool) -> str:
    """Return user:***@host:port, with the password (and the user too unless keep_user)
    hidden."""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # not a number: show nothing of it
        port = None
    host += f":{port}" if port is not None else ""
    if parts.username is None and parts.password is None:
        return host
    user = parts.username if keep_user and parts.username else HIDDEN
    return f"{user}:{HIDDEN}@{host}" if parts.password is not None else f"{user}@{host}"


def mask_password(url: str) -> str:
    """Given a URL, return it with its password and secret-like query values hidden."""
    parts = urlsplit(url)
    if not parts.scheme or "://" not in url:
        return HIDDEN if url else ""
    query = urlencode(
        [(k, HIDDEN if _SECRET_WORD.search(k) else v) for k, v in parse_qsl(parts.query)],
        safe="*",
    )
    netloc = _netloc(parts, keep_user=True) if parts.netloc else ""
    # Not urlunsplit: it would drop the empty host of sqlite:////path.
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")


def mask_endpoint(url: str) -> str:
    """Given a URL, return only its scheme and host; everything else is hidden."""
    parts = urlsplit(url)
    if not parts.scheme:
        return HIDDEN if url else ""
    rest = HIDDEN if (parts.path.strip("/") or parts.query or parts.fragment) else ""
    return f"{parts.scheme}://{_netloc(parts, keep_user=False)}/{rest}"


def mask_channel(url: str) -> str:
    """Given an apprise URL, return its scheme, and its host only where it is a host name."""
    parts = urlsplit(url)
    if parts.scheme.lower() in _HOST_SCHEMES:
        return mask_endpoint(url)
    return f"{parts.scheme}://{HIDDEN}" if parts.scheme else HIDDEN


def masked(kind: str | None, value: Any) -> Any:
    """Given a setting's secret kind (None: not secret) and its value, return the value fit
    to show."""
    if kind is None or value in ("", {}):
        return value
    if kind == "value":
        return HIDDEN
    if kind == "password":
        return mask_password(str(value))
    if kind == "endpoint":
        return mask_endpoint(str(value))
    if kind == "channels":
        return {name: mask_channel(str(url)) for name, url in dict(value).items()}
    raise ValueError(f"unknown secret kind {kind!r}")
