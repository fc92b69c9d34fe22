"""What a Bitget reply may be before anything believes it: not nested deeper than Bitget ever
nests, not a redirect, and a server time that is a finite number near ours. Pure checks, kept
apart from ``transport`` (which does the HTTP) so each says why it refuses in one place."""

from __future__ import annotations

import math
from itertools import accumulate
from urllib.parse import urlsplit

from riskwatch.errors import ExchangeError, TransientError

MAX_JSON_DEPTH = 32  # Bitget nests 4 deep; a deeper reply is hostile or broken
MAX_CLOCK_GAP = 3600.0  # seconds: a server time further from ours is not believed
# Per byte: +1 for an opening bracket, -1 for a closing one (JSON depth, see too_deep).
_DEPTH_STEP = [0] * 256
_DEPTH_STEP[ord("[")] = _DEPTH_STEP[ord("{")] = 1
_DEPTH_STEP[ord("]")] = _DEPTH_STEP[ord("}")] = -1
_BRACKETS = bytes(c for c in range(256) if not _DEPTH_STEP[c])


def too_deep(body: bytes) -> bool:
    """Whether the JSON in ``body`` nests deeper than ``MAX_JSON_DEPTH`` (brackets counted in
    C: the reply is reduced to its brackets first). Brackets inside strings count too: an
    opening one only makes the check stricter, but closing ones can hide depth from it, so
    this is a fast first filter, not the bound: ``json.loads``' own recursion limit is (its
    ``RecursionError`` is caught as a malformed reply), and nothing after it recurses."""
    brackets = body.translate(None, _BRACKETS)
    if len(brackets) <= MAX_JSON_DEPTH:
        return False
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets))) > MAX_JSON_DEPTH


def redirect(path: str, status: int, location: str | None) -> ExchangeError:
    """A 3xx is never followed (the signed headers would go to its target, and its answer would
    be believed): an error naming where it pointed."""
    try:
        host = urlsplit(location or "").hostname or "(no host)"
    except ValueError:
        host = "(unreadable)"
    host = "".join(c for c in host if c.isprintable())[:100]
    return ExchangeError(
        f"{path}: HTTP {status} redirect to {host} not followed (check exchange.base_url)",
        endpoint=path,
    )


def server_ms(server: object, local_ms: float, endpoint: str) -> float:
    """Bitget's clock in ms: a finite number near ours, else a ``TransientError`` (a NaN,
    an infinity or a date years away would make every signed request fail or overflow)."""
    try:
        value = float(str(server))  # whatever came: None or a dict fail here too
    except (TypeError, ValueError, OverflowError):
        value = math.nan
    if not math.isfinite(value):
        shown = str(server)[:40].encode("ascii", "replace").decode()
        raise TransientError(f"{endpoint}: unexpected server time {shown!r}", endpoint=endpoint)
    gap = (value - local_ms) / 1000.0
    if abs(gap) > MAX_CLOCK_GAP:
        raise TransientError(
            f"{endpoint}: Bitget's server time is {gap / 3600:+.1f} h from this host's clock:"
            " not believed (check the host clock, NTP)",
            endpoint=endpoint,
        )
    return value
