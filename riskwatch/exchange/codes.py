"""Bitget's answer codes, sorted by what riskwatch should do about them.

One table per decision: refusals a person must fix (with the sentence that tells them how),
passing faults to retry, clock errors to resync and retry once, and account-mode refusals that
``api: auto`` resolves by switching API. ``classify`` turns an error envelope into the matching
riskwatch error, naming the endpoint path and never a credential.
"""

from __future__ import annotations

from riskwatch.errors import AuthError, ExchangeError, RateLimited, TransientError

SUCCESS = frozenset({"00000", "0"})
UNIFIED_REFUSED = "40085"  # classic (v1/v2) path, account in unified trading account mode
CLASSIC_REFUSED = "40084"  # unified (v3) path, account in classic mode
V1_DECOMMISSIONED = "30032"
TIMESTAMP_CODES = frozenset({"40008", "40004", "40005"})
RATE_LIMIT_CODES = frozenset({"429", "40200"})  # 40200: "server busy, too many requests"
TRANSIENT_CODES = frozenset({"40015", "40010", "45001", "40725", "40808", "40308"})

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
EXPLANATIONS: dict[str, str] = {
    "40006": _KEY,
    "40037": _KEY,
    "40009": (
        "the request signature was rejected (code {code}): BITGET_API_SECRET is wrong; use the "
        "secret key shown once when the API key was created."
    ),
    "40012": _PASS,
    "40036": _PASS,
    "40014": (
        "the API key lacks the Read permission (code {code}): edit the key in Bitget > API "
        "management and enable Read (a read-only key is all riskwatch needs)."
    ),
    "40018": _IP,
    "40038": _IP,
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


class TimestampRejected(TransientError):
    """Bitget says our timestamp is outside its 30 s window: resync the clock offset, retry."""


def is_success(code: object) -> bool:
    return code == 0 or str(code) in SUCCESS


def classify(
    code: str, msg: str, endpoint: str, *, status: int, retry_after: float | None = None
) -> ExchangeError:
    """The riskwatch error for an error envelope from ``endpoint``."""
    text = f"{endpoint}: Bitget answered code {code} ({msg or 'no message'}), HTTP {status}"
    if code in EXPLANATIONS:
        return AuthError(
            text, code=code, endpoint=endpoint, explanation=EXPLANATIONS[code].format(code=code)
        )
    if code in TIMESTAMP_CODES:
        return TimestampRejected(text, code=code, endpoint=endpoint)
    if code in RATE_LIMIT_CODES:
        return RateLimited(text, retry_after=retry_after, code=code, endpoint=endpoint)
    if code in TRANSIENT_CODES or status >= 500:
        return TransientError(text, code=code, endpoint=endpoint)
    return ExchangeError(text, code=code, endpoint=endpoint)
