"""The simulated Bitget's checks, in the order Bitget applies them, before a request is served.

Each rule is one Bitget behaviour riskwatch has met (REFERENCE.md, DESIGN section 17), so a test
that passes here would pass against Bitget:

1. v1 paths answer 30032 unless the simulator was started with v1 on (Bitget decommissioned v1
   on 2025-11-28), before anything else, also for a unified account;
2. a unified account's classic private paths answer 40085 before the signature is checked;
3. the demo header with an ``S*`` product type answers 40099, public paths included (ccxt PR
   #25541: the two demo schemes do not mix);
4. key, passphrase, timestamp (30 s window) and signature, the signature over the *raw* query
   as received (Bitget signs ``key=value&...`` unencoded);
5. a demo key without ``paptrading: 1``, or a live key with it: 40099;
6. a classic account's v3 paths answer 40084 (an account in transition answers the account
   settings, and its paths as the mode it comes from: ``upgrading`` as classic, ``switching``
   as unified);
7. permission scopes: classic paths need Read, v3 positions "UTA trade (read)", v3 account
   "UTA mgt. (read)"; 40014 names the one missing, as Bitget's "need {0} permissions" does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from riskwatch.model import DEMO_ALIASES

if TYPE_CHECKING:  # the server imports this module at run time: annotations only
    from riskwatch.exchange.fake.server import FakeBitget

CLASSIC_PREFIXES = ("/api/v2/mix/", "/api/mix/v1/")
PUBLIC = {"/api/v2/public/time", "/api/spot/v1/public/time", "/api/v2/mix/market/contracts"}
V1_PREFIX = "/api/mix/v1/"
SETTINGS = "/api/v3/account/settings"  # answers in every mode but classic (40084 there)
# The scope each private path family needs, and the name Bitget's 40014 message gives it.
READ, UTA_TRADE, UTA_MGT = "read", "uta_trade_read", "uta_mgt_read"
ALL_PERMISSIONS = frozenset({READ, UTA_TRADE, UTA_MGT})
PERMISSION_NAMES = {READ: "Read", UTA_TRADE: "UTA trade (read)", UTA_MGT: "UTA mgt. (read)"}
SCOPES = (
    ("/api/v3/position/", UTA_TRADE),
    ("/api/v3/trade/", UTA_TRADE),
    ("/api/v3/account/", UTA_MGT),
    ("/api/v2/", READ),
    (V1_PREFIX, READ),
)
# Account modes whose paths behave like a unified account's (v2 refused with 40085).
UNIFIED_LIKE = frozenset({"unified", "hybrid", "switching"})
DEMO_TYPES = frozenset(DEMO_ALIASES) | {"sumcbl", "sdmcbl", "scmcbl"}


def raw_query(query: str) -> str:
    """The query as Bitget signs it: the pairs as received, percent-decoding undone."""
    return "&".join(f"{k}={v}" for k, v in parse_qsl(query, keep_blank_values=True))


def demo_type(params: dict[str, str]) -> bool:
    value = params.get("productType") or params.get("category") or ""
    return value.upper() in DEMO_TYPES or value.lower() in DEMO_TYPES


def signature_error(fx: FakeBitget, method: str, path: str, query: str, headers: Any) -> str | None:
    """The Bitget code for this request's credentials, or None when they pass."""
    if headers.get("ACCESS-KEY") != fx.API_KEY:
        return "40006"
    if headers.get("ACCESS-PASSPHRASE") != fx.PASSPHRASE:
        return "40012"
    ts = headers.get("ACCESS-TIMESTAMP", "")
    if not ts.isdigit():
        return "40005"
    if abs(fx.now_ms() - int(ts)) > fx.WINDOW_MS:
        return "40008"
    raw = raw_query(query)
    prehash = ts + method + path + (f"?{raw}" if raw else "")
    want = base64.b64encode(
        hmac.new(fx.API_SECRET.encode(), prehash.encode(), hashlib.sha256).digest()
    ).decode()
    if not hmac.compare_digest(want, headers.get("ACCESS-SIGN", "")):
        return "40009"
    return None


def refusal(
    fx: FakeBitget, path: str, query: str, params: dict[str, str], headers: Any
) -> tuple[str, str | None] | None:
    """(code, message or None for the usual one) when Bitget would refuse; None to serve."""
    public = path in PUBLIC
    paper = headers.get("paptrading") == "1"
    if path.startswith(V1_PREFIX) and not fx.v1_enabled:
        return "30032", None
    if not public and fx.account_mode in UNIFIED_LIKE and path.startswith(CLASSIC_PREFIXES):
        return "40085", None
    if paper and demo_type(params):
        return "40099", None
    if public:
        return None
    code = signature_error(fx, "GET", path, query, headers)
    if code:
        return code, None
    if paper != fx.demo_key:
        return "40099", None
    settings_known = path == SETTINGS and fx.account_mode != "classic"
    if path.startswith("/api/v3/") and fx.account_mode not in UNIFIED_LIKE and not settings_known:
        return "40084", None
    need = next((scope for prefix, scope in SCOPES if path.startswith(prefix)), None)
    if need is not None and need not in fx.permissions:
        return "40014", f"Incorrect permissions, need {PERMISSION_NAMES[need]} permissions"
    return None
