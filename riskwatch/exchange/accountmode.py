"""Which API an account needs, as Bitget says it: ``GET /api/v3/account/settings``.

``api: auto`` asks this first (and again whenever a path answers 40085 or 40084) instead of
guessing from refusals: ``accountMode`` is ``unified`` or ``hybrid`` (the v3 API serves both),
``upgrading`` or ``switching`` (the account is moving between classic and unified: riskwatch
keeps the API that last worked rather than flip on every poll). A classic account is refused
the v3 path with 40084, which says "classic" as plainly. Any other failure of the probe tells
nothing, and the refusal codes decide as before.

Also here: demo trading's product types. Bitget's demo trading takes a demo key, the header
``paptrading: 1`` and the *normal* product types; the ``S*`` product types belong to an older
demo scheme and are answered 40099 with the header (ccxt issues #25523, #25588, PR #25541).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from riskwatch.errors import AuthError, ExchangeError, Unreachable
from riskwatch.exchange import codes
from riskwatch.exchange.transport import Transport
from riskwatch.model import DEMO_ALIASES, ExchangeSettings

log = logging.getLogger("riskwatch.exchange")

SETTINGS_PATH = "/api/v3/account/settings"
V3_MODES = frozenset({"unified", "hybrid"})
TRANSITIONS = frozenset({"upgrading", "switching"})
CLASSIC = "classic"


class InTransition(Unreachable):
    """The account is moving between classic and unified mode and the API that last worked
    refuses it meanwhile: nothing to fix, poll again (``transition`` is Bitget's accountMode)."""

    def __init__(self, message: str, *, transition: str, code: str | None, endpoint: str) -> None:
        super().__init__(message, code=code, endpoint=endpoint)
        self.transition = transition

    @classmethod
    def of(cls, state: str, api: str, exc: AuthError) -> InTransition:
        """The error for ``exc``, a refusal of the ``api`` API while the account is ``state``."""
        return cls(
            f"the account is {state} between classic and unified trading account mode, and "
            f"Bitget refuses the {api} API meanwhile (code {exc.code}); riskwatch keeps "
            "polling until the mode settles",
            transition=state,
            code=exc.code,
            endpoint=exc.endpoint,
        )


def _mode(data: Any) -> str | None:
    mode = data.get("accountMode") if isinstance(data, dict) else None
    if isinstance(mode, str) and mode.lower() in V3_MODES | TRANSITIONS:
        return mode.lower()
    log.debug("%s: unexpected accountMode %r; deciding by refusal codes", SETTINGS_PATH, mode)
    return None


def probe(transport: Transport, deadline: float) -> str | None:
    """Bitget's ``accountMode`` (lower case), ``"classic"`` on 40084, None when the probe did not
    tell. A host that is down raises ``Unreachable``: the fetch after it would fail the same."""
    try:
        return transport.get(
            SETTINGS_PATH, None, bucket="v3-settings", deadline=deadline, parse=_mode
        )
    except Unreachable:
        raise
    except AuthError as exc:
        if exc.code == codes.CLASSIC_REFUSED:
            return CLASSIC
        log.debug("%s did not tell the account mode: %s", SETTINGS_PATH, exc)
    except ExchangeError as exc:
        log.debug("%s did not tell the account mode: %s", SETTINGS_PATH, exc)
    return None


def demo_aliases(settings: ExchangeSettings) -> ExchangeSettings:
    """With ``demo: true``, the ``S*`` product types become the normal ones (said once)."""
    if not settings.demo:
        return settings
    mapped = tuple(dict.fromkeys(DEMO_ALIASES.get(pt, pt) for pt in settings.product_types))
    if mapped == settings.product_types:
        return settings
    aliased = [f"{pt} as {DEMO_ALIASES[pt]}" for pt in settings.product_types if pt in DEMO_ALIASES]
    log.info(
        "exchange.demo: true: Bitget's demo trading takes the normal product types with the "
        "paptrading header, so riskwatch reads %s",
        ", ".join(aliased),
    )
    return replace(settings, product_types=mapped)
