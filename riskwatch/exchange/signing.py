"""Bitget request signing, exactly as Bitget specifies it (v1, v2 and v3 alike).

``ACCESS-SIGN = base64(hmac_sha256(secret, timestamp + METHOD + requestPath + "?" + query + body))``
with no ``?`` when there is no query. Bitget signs the *raw* query (``key=value`` joined by
``&``, values not percent-encoded: its own SDK's ``parse_params_to_str``), while the URL carries
the percent-encoded form. Both come from the same sorted pairs (``raw_query`` and
``encode_query``), so they differ only where a value needs escaping.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import quote


def encode_query(params: Mapping[str, str] | None) -> str:
    """Keys sorted (as Bitget's samples do), values percent-encoded; '' when no params."""
    if not params:
        return ""
    return "&".join(
        f"{quote(str(k), safe='')}={quote(str(v), safe='')}" for k, v in sorted(params.items())
    )


def raw_query(params: Mapping[str, str] | None) -> str:
    """The query as Bitget signs it: keys sorted, values as they are; '' when no params."""
    if not params:
        return ""
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()))


def prehash(timestamp: str, method: str, path: str, query: str = "", body: str = "") -> str:
    return timestamp + method.upper() + path + (f"?{query}" if query else "") + body


def sign(
    secret: str, timestamp: str, method: str, path: str, query: str = "", body: str = ""
) -> str:
    digest = hmac.new(
        secret.encode(), prehash(timestamp, method, path, query, body).encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def headers(
    *, api_key: str, passphrase: str, signature: str, timestamp: str, demo: bool = False
) -> dict[str, str]:
    h = {
        "ACCESS-KEY": api_key,
        "ACCESS-SIGN": signature,
        "ACCESS-TIMESTAMP": timestamp,
        "ACCESS-PASSPHRASE": passphrase,
        "Content-Type": "application/json",
        "locale": "en-US",
    }
    if demo:
        h["paptrading"] = "1"
    return h
