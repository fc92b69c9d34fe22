"""riskwatch's domain objects: frozen, plain data, shared by every module.

This module imports nothing from riskwatch and does no I/O, so that the pure core (metrics,
engine, render) and the I/O edges (config, exchange, store, notify, daemon) can all depend on it
without depending on each other. Times are POSIX seconds (float); durations are seconds (float).
Exchange values stay ``Decimal`` as reported; metric values and thresholds are ``float`` because
the engine compares millions of them per second.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

Side = Literal["long", "short"]
Op = Literal["<", "<=", ">", ">="]
Scope = Literal["position", "account"]
Severity = Literal["warning", "critical"]
ApiVersion = Literal["auto", "v1", "v2", "v3"]
AccountMode = Literal["classic", "unified"]
# What apprise is told of a message (its ``notify_type``): services colour and prioritise by it.
NotifyType = Literal["info", "success", "warning", "failure"]
NOTIFY_TYPES: tuple[NotifyType, ...] = ("info", "success", "warning", "failure")
Feed = Literal["poll", "stream"]

OPS: tuple[Op, ...] = ("<", "<=", ">", ">=")
# Product types, canonical (v2/v3) names; v1 names are mapped by config and the v1 adapter.
PRODUCT_TYPES: tuple[str, ...] = ("USDT-FUTURES", "COIN-FUTURES", "USDC-FUTURES",
                                  "SUSDT-FUTURES", "SCOIN-FUTURES", "SUSDC-FUTURES")  # fmt: skip
# riskwatch's own URL scheme: print the message locally (the demo, trying rules in a terminal).
CONSOLE_URLS: Mapping[str, str] = {
    "console://": "stdout", "console://stdout": "stdout", "console://stderr": "stderr",
}  # fmt: skip
V1_PRODUCT_TYPES: Mapping[str, str] = {
    "umcbl": "USDT-FUTURES", "dmcbl": "COIN-FUTURES", "cmcbl": "USDC-FUTURES",
    "sumcbl": "SUSDT-FUTURES", "sdmcbl": "SCOIN-FUTURES", "scmcbl": "SUSDC-FUTURES",
}  # fmt: skip
# v3 (unified trading account) takes only these as ``category``.
V3_CATEGORIES: tuple[str, ...] = ("USDT-FUTURES", "COIN-FUTURES", "USDC-FUTURES")
# The older demo scheme's product types, and the normal ones Bitget's demo trading (a demo key
# with the ``paptrading: 1`` header) takes instead: with ``demo: true`` the former are aliases.
DEMO_ALIASES: Mapping[str, str] = {"SUSDT-FUTURES": "USDT-FUTURES",
                                   "SCOIN-FUTURES": "COIN-FUTURES",
                                   "SUSDC-FUTURES": "USDC-FUTURES"}  # fmt: skip
# The product type under which a unified (v3) account's account-scope alerts are keyed.
UNIFIED = "unified"
DEFAULT_ACCOUNT = "default"  # the one account of a file without ``accounts:`` (DESIGN 14)


# --------------------------------------------------------------------------- exchange data


@dataclass(frozen=True, slots=True)
class Position:
    """One open position leg (``total > 0``), normalised from v1, v2 or v3."""

    product_type: str  # canonical, e.g. "USDT-FUTURES"
    symbol: str  # bare, e.g. "BTCUSDT"
    side: Side
    margin_coin: str
    total: Decimal  # size in contracts/coins, > 0
    mark_price: Decimal
    liquidation_price: Decimal | None  # None: Bitget reports no liquidation price
    leverage: Decimal
    margin_mode: str = "crossed"  # crossed | isolated
    average_open_price: Decimal | None = None
    margin: Decimal | None = None  # v1 margin, v2 marginSize, v3 positionBalance
    unrealized_pl: Decimal | None = None
    unrealized_plr: Decimal | None = None  # reported (v1, v3 profitRate) or derived (v2)
    keep_margin_rate: Decimal | None = None  # v3: mmr
    margin_ratio: Decimal | None = None  # v2 only
    break_even_price: Decimal | None = None
    size_in_usd: bool = False  # v3 COIN-M: ``total`` counts USD contracts, so it is the notional
    adl_rank: Decimal | None = None  # 0..1, closer to 1 = earlier in the ADL queue (adlRank)


@dataclass(frozen=True, slots=True)
class Fill:
    """One fill of the account, normalised from v2 ``/api/v2/mix/order/fills`` or v3
    ``/api/v3/trade/fills``: what ``core.events`` reads to say why a position went.

    ``trade_side`` is Bitget's raw ``tradeSide`` (``burst_close_long``, ``sell_single``,
    ``dte_sys_adl_close_short``...), or, on v3 whose fill rows carry none, the ``execType`` of
    the fill's order (``liquidation``...), empty when neither is known."""

    product_type: str
    symbol: str
    trade_side: str
    side: str  # buy | sell, as reported
    price: Decimal
    size: Decimal
    profit: Decimal | None  # realized PnL of this fill (v2 profit, v3 execPnl)
    at: float  # POSIX seconds
    fill_id: str = ""
    order_id: str = ""
    hold_side: str = ""  # long | short when the row says (v3 holdSide), else ""


@dataclass(frozen=True, slots=True)
class Account:
    """One futures account (per product type and margin coin), or the unified account."""

    product_type: str  # canonical product type, or UNIFIED
    margin_coin: str
    account_equity: Decimal | None = None
    available: Decimal | None = None
    locked: Decimal | None = None
    crossed_max_available: Decimal | None = None
    isolated_max_available: Decimal | None = None
    max_transfer_out: Decimal | None = None
    crossed_risk_rate: Decimal | None = None
    unrealized_pl: Decimal | None = None
    usdt_equity: Decimal | None = None
    btc_equity: Decimal | None = None
    # unified (v3) account fields
    eff_equity: Decimal | None = None
    mgn_ratio: Decimal | None = None
    imr: Decimal | None = None
    mmr: Decimal | None = None
    position_mgn_ratio: Decimal | None = None
    # v2 multi-asset (union) mode: the account's figures, across its coins; per-coin equity can
    # then be negative. asset_mode is "single" or "union" as Bitget reports it (None: unsaid).
    union_mm: Decimal | None = None
    union_available: Decimal | None = None
    union_total_margin: Decimal | None = None
    asset_mode: str | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one poll saw. Absence means "closed" only where ``core.lifecycle.lists`` says so:
    ``fetched`` names the product types read without a row of unreadable symbol,
    ``unreadable`` the (product type, symbol) of rows skipped as bad there, ``accounts_fetched``
    those whose accounts were read (``UNIFIED`` for a unified account)."""

    taken_at: float
    positions: tuple[Position, ...] = ()
    accounts: tuple[Account, ...] = ()
    fetched: frozenset[str] = frozenset()
    accounts_fetched: frozenset[str] = frozenset()
    unreadable: frozenset[tuple[str, str]] = frozenset()
    account_mode: AccountMode = "classic"
    warnings: tuple[str, ...] = ()  # skipped rows etc., one line each, already said in the log
    # Bitget's accountMode while the account moves between classic and unified ("upgrading",
    # "switching"); polling goes on with the API that last worked. None: not in transition.
    account_transition: str | None = None
    exchange_time: float | None = None  # the positions replies' requestTime (oldest), seconds
    account: str = DEFAULT_ACCOUNT  # which configured account this poll is of (DESIGN 14)


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True, slots=True)
class Match:
    """Case-insensitive globs (lower-cased at load); an empty tuple matches anything."""

    symbol: tuple[str, ...] = ()
    side: tuple[str, ...] = ()
    product_type: tuple[str, ...] = ()
    margin_coin: tuple[str, ...] = ()
    account: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    metric: str
    op: Op
    warning: float | None = None
    critical: float | None = None
    scope: Scope = "position"
    hysteresis: float = 0.0
    for_: float = 0.0  # seconds the condition must hold before firing
    repeat: float = 1800.0  # seconds; 0 = never repeat
    worsen_by: float | None = None
    send_resolved: bool = True
    match: Match = field(default_factory=Match)
    channels: tuple[str, ...] = ()  # warnings, and criticals unless critical_channels is set
    message: str | None = None  # safe-format template over the alert's fields
    labels: tuple[tuple[str, str], ...] = ()  # extra Alertmanager labels (name, value)
    # ``channels: {warning: [...], critical: [...]}`` (DESIGN 11): criticals and escalations go
    # here; None: to ``channels`` like warnings
    critical_channels: tuple[str, ...] | None = None
    quiet_hours: tuple[QuietWindow, ...] | None = None  # None: the top level's (DESIGN 12)
    escalate: Escalate | None = None

    def channels_for(self, severity: Severity) -> tuple[str, ...]:
        return route(self.channels, self.critical_channels, severity)


@dataclass(frozen=True, slots=True)
class Defaults:
    channels: tuple[str, ...] = ()
    repeat: float = 1800.0
    send_resolved: bool = True
    for_: float = 0.0
    hysteresis: float = 0.0
    worsen_by: float | None = None
    critical_channels: tuple[str, ...] | None = None  # as in Rule
    escalate: Escalate | None = None

    def channels_for(self, severity: Severity) -> tuple[str, ...]:
        return route(self.channels, self.critical_channels, severity)


def route(
    channels: tuple[str, ...], critical: tuple[str, ...] | None, severity: Severity
) -> tuple[str, ...]:
    """The channels a line of ``severity`` goes to: ``critical`` for criticals when set."""
    return critical if severity == "critical" and critical is not None else channels


@dataclass(frozen=True, slots=True)
class QuietWindow:  # quiet hours (DESIGN 12): minutes of the day in the config's timezone
    start: int
    end: int  # not after start: the window crosses midnight; 1440 is the end of the day
    days: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)  # the days a window starts on, 0 = Monday


@dataclass(frozen=True, slots=True)
class Escalate:  # an unacked critical goes once to ``channels`` after ``after`` s (DESIGN 12)
    after: float
    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TelegramSettings:  # the two-way bot (DESIGN 12)
    token: str = field(repr=False)  # a secret: repr hides it
    chats: tuple[str, ...]
    api_url: str = "https://api.telegram.org"


@dataclass(frozen=True, slots=True)
class ExchangeSettings:
    api: ApiVersion = "auto"
    base_url: str = "https://api.bitget.com"
    fallback_url: str | None = None  # off: Bitget documents one REST host
    product_types: tuple[str, ...] = ("USDT-FUTURES",)
    margin_coin: str | None = None
    demo: bool = False
    poll_interval: float = 10.0
    stale_after: float = 120.0
    timeout: float = 10.0
    feed: Feed = "poll"  # stream: WebSocket ticks between polls (DESIGN section 13)
    ws_public_url: str | None = None  # None: Bitget's, by API version and demo
    ws_private_url: str | None = None


@dataclass(frozen=True, slots=True)
class AccountSettings:
    """A watched account (DESIGN 14): name, secrets' prefix, its own exchange settings."""

    name: str = DEFAULT_ACCOUNT
    credentials: str = "BITGET"  # the variables' prefix: BITGET_API_KEY ...
    exchange: ExchangeSettings = field(default_factory=ExchangeSettings)


@dataclass(frozen=True, slots=True)
class Channel:
    """A named list of apprise URLs. URLs hold tokens: never print them (repr redacts)."""

    name: str
    urls: tuple[str, ...] = field(repr=False)

    def __repr__(self) -> str:
        return f"Channel(name={self.name!r}, urls=<{len(self.urls)} redacted>)"


@dataclass(frozen=True, slots=True)
class AlertmanagerSettings:
    """Where riskwatch posts its alerts as Prometheus does (DESIGN section 15). URLs may hold
    basic-auth credentials: never print them (repr redacts)."""

    urls: tuple[str, ...] = field(repr=False, default=())
    resend: float = 60.0  # re-post firing alerts this often; firing endsAt = now + 4 x resend
    timeout: float = 10.0  # per POST

    def __repr__(self) -> str:
        return (
            f"AlertmanagerSettings(urls=<{len(self.urls)} redacted>, resend={self.resend!r},"
            f" timeout={self.timeout!r})"
        )


@dataclass(frozen=True, slots=True)
class Config:
    path: str
    exchange: ExchangeSettings = field(default_factory=ExchangeSettings)
    state_dir: str = ""
    send_ttl: float = 6 * 3600.0
    timezone: str = "UTC"  # IANA name: the zone of the time that ends every alert line
    late_after: float = 60.0  # a message delivered later than this after queueing says so
    history_keep: float = 30 * 86400.0  # seconds of history kept in the state dir
    heartbeat: float | None = None
    heartbeat_url: str | None = field(default=None, repr=False)
    metrics_listen: str | None = None  # "host:port"
    channels: tuple[Channel, ...] = ()
    defaults: Defaults = field(default_factory=Defaults)
    rules: tuple[Rule, ...] = ()
    alertmanager: AlertmanagerSettings | None = None  # off unless set
    quiet_hours: tuple[QuietWindow, ...] = ()
    telegram: TelegramSettings | None = None
    accounts: tuple[AccountSettings, ...] = ()  # empty: ``default`` (config.accounts.watched)

    def channel(self, name: str) -> Channel | None:
        return next((c for c in self.channels if c.name == name), None)


# --------------------------------------------------------------------------- alerts

# Alert identity (DESIGN 4, 14): (rule, product_type, subject, side, account); subject is the
# symbol, or the margin coin for account rules (side ""); built-ins use (name, "", "", "",
# account), account "" for riskwatch-config. Account last: older state dirs migrate by
# appending "default" (store.accounts). A plain tuple: hashed millions of times per second.
AlertKey = tuple[str, str, str, str, str]
BUILTIN_SCOPE = "builtin"  # AlertState.scope of self-alerts (riskwatch-stale, -auth, ...)

Status = Literal["pending", "firing"]
# "event": something happened to a position (liquidated, force-netted...: core.events), not an
# alert; its key is ("event:<kind>", product_type, symbol, side, account).
# "reminder": the answering layer re-telling a held line (``reason`` says why: DESIGN 12).
TransitionKind = Literal[
    "firing", "escalated", "deescalated", "repeat", "worsened", "resolved", "event", "reminder"
]


@dataclass(frozen=True, slots=True)
class AlertState:
    """One non-inactive alert. Inactive alerts are simply absent from the state map.

    Plain data only (str, float, None, tuples of pairs) so the store can persist it as JSON
    and reload it exactly."""

    key: AlertKey
    status: Status
    severity: Severity  # for pending: the severity it would fire at
    since: float  # pending: when the condition started; firing: when it first fired
    value: float | None  # last evaluated value
    last_sent_at: float | None = None  # when the last message for it was enqueued
    last_sent_value: float | None = None
    channels: tuple[str, ...] = ()  # where its messages went, for resolves after a reload
    # last known context (mark, liq, metric values...) for "position closed" lines
    context: tuple[tuple[str, str | float | None], ...] = ()
    # the rule's identity when the state was made: a reload that changes any of them ends the
    # alert ("rule changed"); a reload that keeps them keeps the state (DESIGN section 8)
    metric: str = ""
    op: str = ""
    scope: str = ""


@dataclass(frozen=True, slots=True)
class Health:
    """The daemon's own health, input to the built-in alerts (DESIGN section 8)."""

    last_success: float | None = None  # last successful poll (persisted)
    auth_error: str | None = None  # explanation of the current refusal, if any
    config_error: str | None = None  # "FILE:LINE:COL: ..." of the current invalid edit
    started_at: float | None = None  # stale is judged from here when no poll ever succeeded
    stream_down_since: float | None = None  # feed: stream, while a socket is down (else None)
    stream_problem: str = ""  # why the stream is down, one line
    account: str = DEFAULT_ACCOUNT  # whose polls these are (stale and auth are per account)


@dataclass(frozen=True, slots=True)
class Transition:
    """Something worth a line in a message this cycle."""

    key: AlertKey
    kind: TransitionKind
    severity: Severity
    previous_severity: Severity | None
    rule: str
    metric: str
    value: float | None
    threshold: float | None
    op: Op | None
    at: float
    channels: tuple[str, ...]
    reason: str = ""  # for resolves: "position closed", "rule removed", "no liquidation price"
    message: str | None = None  # the rule's template, if any
    fields: tuple[tuple[str, str | float | None], ...] = ()  # symbol, side, markPrice, ...
    builtin: bool = False  # a self-alert (riskwatch-stale, -auth, -config): its text says it all

    def field_map(self) -> dict[str, str | float | None]:
        return dict(self.fields)


@dataclass(frozen=True, slots=True)
class Message:
    """One notification for one channel: the grouped transitions of one cycle."""

    channel: str
    title: str
    body: str
    created_at: float
    keys: tuple[AlertKey, ...] = ()
    notify_type: NotifyType = "info"  # heartbeat and test: info (DESIGN 11)
