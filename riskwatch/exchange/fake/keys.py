"""Many API keys on one simulated Bitget: each key has its own book (DESIGN 14).

Bitget tells accounts apart by the key a request is signed with; so does the simulator. A
``FakeBitget`` serves its own key and, after ``add_account(name)``, one more key per account,
each backed by a full ``FakeBitget`` of its own (not started: the host's server routes to it by
``ACCESS-KEY``), with its own positions, account mode, permissions, clock skew and faults, and
its own secret and passphrase, so a request signed with another account's secret is refused
(40009) exactly as a wrong signature is. Public endpoints are the host's.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from riskwatch.exchange.fake.server import FakeBitget


class KeysMixin:
    """The host's side: its accounts by name and by key."""

    API_KEY: str
    API_SECRET: str
    PASSPHRASE: str
    name: str
    _accounts: dict[str, FakeBitget]

    def add_account(self, name: str, **options: Any) -> FakeBitget:
        """A second (third...) account on this server, with its own key and book; ``options``
        as for ``FakeBitget`` (``account_mode``, ``demo_key``, ``permissions``...)."""
        cls: Any = type(self)
        child: FakeBitget = cls(**options)
        token = hashlib.sha256(name.encode()).hexdigest()
        child.API_KEY = f"bg_fake_{token[:16]}"
        child.API_SECRET = f"fake_secret_{token[16:40]}"
        child.PASSPHRASE = f"fake_passphrase_{token[40:48]}"
        child.name = name
        self._children()[child.API_KEY] = child
        return child

    def _children(self) -> dict[str, FakeBitget]:
        if not hasattr(self, "_accounts"):
            self._accounts = {}
        return self._accounts

    def for_key(self, key: str | None) -> Any:
        """The account a request signed with ``key`` is served by (this one by default: an
        unknown key is then refused by this one's signature check, 40006)."""
        return self._children().get(key or "", self)

    def env(self, prefix: str = "BITGET") -> dict[str, str]:
        """The variables that give riskwatch this account's key under ``prefix``."""
        return {
            f"{prefix}_API_KEY": self.API_KEY,
            f"{prefix}_API_SECRET": self.API_SECRET,
            f"{prefix}_API_PASSPHRASE": self.PASSPHRASE,
        }

    def stop_children(self) -> None:
        for child in self._children().values():
            child._stopping.set()  # ends a child's injected hang with the host
