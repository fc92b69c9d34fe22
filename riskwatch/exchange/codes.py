"""Bitget's answer codes, sorted by what riskwatch should do about them.

One table per decision: refusals a person must fix (with the sentence that tells them how),
passing faults to retry, clock errors to resync and retry once, and account-mode refusals that
``api: auto`` resolves by switching API. ``classify`` turns an error envelope into the matching
riskwatch error, naming the endpoint path and never a credential; Bitget's own ``msg`` follows
the explanation, so a message Bitget rewords or localises is still seen.

Sources: Bitget's common error-code page (api-doc/common/error-code), the UTA permission names
on the v3 endpoint pages (current-position: "UTA trade (read)", account/assets: "UTA mgt.
(read)"), ccxt issues #25523/#25588 and PR #25541 for 40099 (demo key and environment).
"""

from __future__ import annotations

from riskwatch.errors import AuthError, ExchangeError, RateLimited, TransientError

SUCCESS = frozenset({"00000", "0"})
UNIFIED_REFUSED = "40085"  # classic (v1/v2) path, account in unified trading account mode
CLASSIC_REFUSED = "40084"  # unified (v3) path, account in classic mode
V1_DECOMMISSIONED = "30032"
NO_PERMISSION = "40014"
WRONG_ENVIRONMENT = "40099"  # demo key without paptrading: 1, live key with it, or S* + header
V3_PARAMETER = "400172"  # v3 parameter check failed: a request riskwatch built wrongly
TIMESTAMP_CODES = frozenset({"40008", "40004", "40005"})
RATE_LIMIT_CODES = frozenset({"429"})
# 40200 is "server upgrade, please try again later": it passes, but it is not a rate limit.
TRANSIENT_CODES = frozenset({"40015", "40200", "40010", "45001", "40725", "40808", "40308"})

_KEY = (
    "Bitget does not know this API key (code {code}): check BITGET_API_KEY (copy it again from "
    "Bitget > API management; a demo-trading key also needs exchange.demo: true)."
)
_PASS = (
    "the API passphrase is wrong (code {code}): BITGET_API_PASSPHRASE must be the passphrase "
    "chosen when the API key was created."
)
_IP = (
    "this machine's IP address is not on the API key's IP whitelist (code {code}): add it in "
    "Bitget > API management, or use a key without an IP restriction."
)
_SUPPORT = "; Bitget support can say why, riskwatch cannot change it"
EXPLANATIONS: dict[str, str] = {
    "40006": _KEY,
    "40037": _KEY,
    "40009": (
        "the request signature was rejected (code {code}): BITGET_API_SECRET is wrong; use the "
        "secret key shown once when the API key was created."
    ),
    "40012": _PASS,
    "40036": _PASS,
    NO_PERMISSION: (
        "the API key lacks the Read permission (code {code}): edit the key in Bitget > API "
        "management and enable Read (a read-only key is all riskwatch needs)."
    ),
    "40018": _IP,
    "40038": _IP,
    "40013": "Bitget reports this account's status as abnormal (code {code})" + _SUPPORT + ".",
    "40022": "Bitget has restricted this account's business (code {code})" + _SUPPORT + ".",
    "40023": "Bitget has restricted this account's API access (code {code})" + _SUPPORT + ".",
    "40024": "this Bitget account is frozen (code {code})" + _SUPPORT + ".",
    "40026": "this Bitget user is disabled (code {code})" + _SUPPORT + ".",
    "40041": (
        "this API key does not exist any more (code {code}): it was deleted or has expired; "
        "create a new read-only key in Bitget > API management and set BITGET_API_KEY, "
        "BITGET_API_SECRET and BITGET_API_PASSPHRASE from it."
    ),
    V1_DECOMMISSIONED: (
        "Bitget has decommissioned the v1 API (code {code}): set exchange.api: v2 (or auto) in "
        "the rules file."
    ),
    UNIFIED_REFUSED: (
        "the Bitget account is in unified trading account mode, and Bitget refuses the classic "
        "futures API for it (code {code}): set exchange.api: v3 or auto in the rules file."
    ),
    CLASSIC_REFUSED: (
        "the Bitget account is in classic account mode, and Bitget refuses the unified trading "
        "account (v3) API for it (code {code}): set exchange.api: v2 or auto in the rules file."
    ),
}
# 40099 depends on which side of the demo switch riskwatch is on.
_ENVIRONMENT = {
    False: (
        "this key belongs to demo trading (code {code}): set exchange.demo: true in the rules "
        "file (or use a live-trading key)."
    ),
    True: (
        "this key belongs to live trading, not demo trading (code {code}): set exchange.demo: "
        "false in the rules file (or use a demo-trading key)."
    ),
}
# On v3 (unified trading account) Bitget's permissions are the UTA ones, per endpoint family.
UTA_PERMISSIONS = (
    ("/api/v3/position/", "UTA trade (read)"),
    ("/api/v3/trade/", "UTA trade (read)"),
    ("/api/v3/account/", "UTA mgt. (read)"),
)
_UTA = (
    "the API key lacks the {need} permission that Bitget's unified trading account API needs "
    "for {endpoint} (code {code}): edit the key in Bitget > API management and enable "
    '"UTA trade (read)" and "UTA mgt. (read)" (keys created before the account was upgraded '
    "to a unified trading account lack them)."
)


class TimestampRejected(TransientError):
    """Bitget says our timestamp is outside its 30 s window: resync the clock offset, retry."""


def is_success(code: object) -> bool:
    return code == 0 or str(code) in SUCCESS


def uta_permission(endpoint: str) -> str | None:
    """The UTA permission Bitget asks of a key for ``endpoint``; None off v3."""
    return next((need for prefix, need in UTA_PERMISSIONS if endpoint.startswith(prefix)), None)


def explain(code: str, endpoint: str, *, demo: bool = False) -> str | None:
    """The sentence that tells a person what to change for refusal ``code``, or None."""
    if code == WRONG_ENVIRONMENT:
        return _ENVIRONMENT[demo].format(code=code)
    if code == NO_PERMISSION and (need := uta_permission(endpoint)) is not None:
        return _UTA.format(code=code, need=f'"{need}"', endpoint=endpoint)
    text = EXPLANATIONS.get(code)
    return None if text is None else text.format(code=code)


def classify(
    code: str,
    msg: str,
    endpoint: str,
    *,
    status: int,
    retry_after: float | None = None,
    demo: bool = False,
) -> ExchangeError:
    """The riskwatch error for an error envelope from ``endpoint`` (``demo``: whether the
    request carried the demo-trading header, which decides what 40099 means)."""
    code, said = _one_line(code, 16), _one_line(msg, 200) or "no message"
    text = f"{endpoint}: Bitget answered code {code} ({said}), HTTP {status}"
    explanation = explain(code, endpoint, demo=demo)
    if explanation is not None:
        full = f"{explanation} Bitget said: {said}"
        return AuthError(text, code=code, endpoint=endpoint, explanation=full)
    if code == V3_PARAMETER:
        return ExchangeError(
            f"{text}: Bitget's v3 parameter check refused a request riskwatch built; this is a "
            "riskwatch bug, please report this line",
            code=code,
            endpoint=endpoint,
        )
    if code in TIMESTAMP_CODES:
        return TimestampRejected(text, code=code, endpoint=endpoint)
    if code in RATE_LIMIT_CODES:
        return RateLimited(text, retry_after=retry_after, code=code, endpoint=endpoint)
    if code in TRANSIENT_CODES or status >= 500:
        return TransientError(text, code=code, endpoint=endpoint)
    return ExchangeError(text, code=code, endpoint=endpoint)


def _one_line(text: str, limit: int) -> str:
    """Bitget's words as one short line: a hostile ``msg`` or ``code`` (newlines, a page of
    HTML) must not turn a log line or an alert into many."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
