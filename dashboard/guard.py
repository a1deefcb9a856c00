"""What the dashboard believes about a request, and what it refuses: where a redirect may
go, which address a login comes from, and how far paging may go.

- Redirects (`next=` after login, the back link of an action) go only to a path of this site:
  one slash, then printable ASCII without backslashes or spaces. Browsers drop tabs and
  newlines from URLs and read a backslash as a slash, so `/%09/evil.example/` or `/\\evil` would
  otherwise leave the site; anything else goes to the overview.
- The client's address is the connection's, unless that connection comes from one of the
  `trusted_proxies`: then X-Forwarded-For is read from the right, skipping trusted hops.
- Page numbers are clamped to 1..MAX_PAGE, and ids in URLs to what the database can hold.
- Task environment values (where people keep tokens and passwords) are shown only to an admin
  who asks for them (`?show_env=1`), in pages and in the API.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from werkzeug.routing import IntegerConverter

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_PAGE = 100_000
MAX_ID = 2**63 - 1  # the largest BIGINT: a larger id in a URL is a 404, never an overflow
# One slash, then printable ASCII without a space, '"' or a backslash.
_LOCAL_PATH = re.compile(r"^/(?![/\\])[!#-\[\]-~]*$")


def safe_next(target: str | None, default: str) -> str:
    """Given a redirect target from the request, return it if it is a path of this site,
    else `default`."""
    if not target or not _LOCAL_PATH.match(target):
        return default
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else default


def env_visible() -> bool:
    """Return True when this request may see task environment values: an admin asked."""
    from flask import g, request

    user = g.get("user")
    return user is not None and user.can("admin") and request.args.get("show_env") == "1"


def page_number(raw: str | None) -> int:
    """Given a `page` parameter, return a page number from 1 to MAX_PAGE (1 if unreadable)."""
    text = (raw or "").strip()
    if not text.isascii() or not text.isdigit():
        return 1
    if len(text) > len(str(MAX_PAGE)):  # no int() of a thousand digits
        return MAX_PAGE
    return min(max(1, int(text)), MAX_PAGE)


def networks(setting: str) -> tuple[Network, ...]:
    """Given the trusted_proxies setting (checked when the configuration was loaded), return
    its networks."""
    return tuple(ipaddress.ip_network(p.strip()) for p in setting.split(",") if p.strip())


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def client_address(remote: str | None, forwarded: str, trusted: Sequence[Network]) -> str:
    """Given the connection's address, the X-Forwarded-For header and the trusted proxies,
    return the client's address.

    Only a trusted proxy's header is believed; each trusted hop appends the address it saw,
    so the client is the rightmost entry that is not itself a trusted proxy.
    """
    address = remote or "?"
    if not forwarded or not _trusted(address, trusted):
        return address
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop
    return hops[0] if hops else address


class IdConverter(IntegerConverter):
    """`<id:run_id>`: a database id in a URL, 1 to MAX_ID; anything larger is a 404 (an int
    converter would pass it on, and SQLite cannot bind it)."""

    def __init__(self, map: object) -> None:
        super().__init__(map, min=1, max=MAX_ID)  # type: ignore[arg-type]
