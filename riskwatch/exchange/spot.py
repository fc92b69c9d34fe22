"""The spot account, read for action hints only (DESIGN 11): a Bitget client that also knows
what the spot account holds of a margin coin.

Kept out of ``bitget`` because it is a different concern (a courtesy figure on a line, never
an input to an alert) read on a different schedule (at most once a minute, only while a line
that mentions it is due: ``service.spot`` decides when). Only the v2 API has a separate spot
account to read (``GET /api/v2/spot/account/assets``, 10/s per UID): v1 is decommissioned,
and a v3 unified account's spot balance is already part of its equity.
"""

from __future__ import annotations

from decimal import Decimal

from riskwatch.exchange.bitget import BitgetClient
from riskwatch.exchange.normalise import spot as normalise_spot

PATHS = {"v2": "/api/v2/spot/account/assets"}  # by API version; absent: no spot to read
# Seconds a spot read may take, retries included: it is made in the cycle, before the line
# that mentions it is sent, and a hint must not hold back a critical line for a whole budget.
BUDGET = 2.0


class SpotAwareClient(BitgetClient):
    """``BitgetClient`` plus ``spot_available`` (``exchange.base.SpotReader``)."""

    def spot_available(self, coin: str) -> Decimal | None:
        """The spot account's ``coin`` available to transfer; None when this API has no
        separate spot account or the account holds none. Raises ``ExchangeError`` (a refusal
        included) like any read: the caller keeps its line and drops the figure."""
        path = PATHS.get(self.api)
        if path is None:
            return None
        found = self._t.get(
            path,
            {"coin": coin.upper()},
            bucket="spot-assets",
            deadline=self._t.deadline(BUDGET),
            parse=lambda data: normalise_spot.available(data, path),
        )
        return found.get(coin.upper())
