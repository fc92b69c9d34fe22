"""Every key of the rules file, its kind, default and meaning: one table for three readers.

The validator (``config.load`` and ``config.rules``) takes the allowed keys and their kinds from
here, the JSON Schema (``config.schema``) is generated from it, and ``docs/rules.md`` follows
it; so an editor, ``riskwatch check`` and the documentation cannot disagree about which keys
exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from riskwatch.model import OPS, PRODUCT_TYPES, V1_PRODUCT_TYPES

# Kinds: duration, bool, number, string, url, wsurl (ws:// or wss://), path, hostport, template,
# enum, names (a list of channel names), globs (a glob or a list of globs), product_types, urls
# (channel URL list), section (a nested mapping described by its own table), am_urls
# (Alertmanager base URLs), labels (a mapping of label name to string value).


@dataclass(frozen=True, slots=True)
class Key:
    name: str
    kind: str
    doc: str
    default: object = None
    enum: tuple[str, ...] = ()
    required: bool = False
    nullable: bool = False  # null is accepted and means "off"
    field: str = ""  # the model attribute it fills, when not ``name`` (``for`` -> ``for_``)
    minimum: float | None = None  # the smallest value accepted (seconds for a duration)
    above: float | None = None  # values must be greater than this
    pattern: str = ""  # a string's regular expression (the schema says it too)

    @property
    def attr(self) -> str:
        return self.field or self.name


API_VERSIONS = ("auto", "v2", "v3", "v1")
FEEDS = ("poll", "stream")
SCOPES = ("position", "account")
SIDES = ("long", "short")
NAME_PATTERN = r"^[a-z0-9_-]+$"

EXCHANGE: tuple[Key, ...] = (
    Key(
        "api",
        "enum",
        "Bitget API: auto (v2, v3 for a unified account), v2, v3, v1",
        "auto",
        API_VERSIONS,
    ),
    Key("base_url", "url", "REST endpoint", "https://api.bitget.com"),
    Key(
        "fallback_url",
        "url",
        "opt-in second host, used while the primary is unreachable (off: Bitget documents "
        "one REST host)",
        None,
        nullable=True,
    ),
    Key(
        "product_types",
        "product_types",
        "product types to watch (v1 names are mapped)",
        ["USDT-FUTURES"],
    ),
    Key("margin_coin", "string", "only watch this margin coin", None, nullable=True),
    Key("demo", "bool", "demo-trading key (sends the paptrading header)", False),
    Key("poll_interval", "duration", "time between polls (at least 1s)", "10s", minimum=1.0),
    Key(
        "stale_after",
        "duration",
        "no successful poll for this long fires riskwatch-stale",
        "2m",
        minimum=1.0,
    ),
    Key(
        "timeout",
        "duration",
        "total time of one HTTP request, connect to last byte",
        "10s",
        minimum=0.1,
    ),
    Key(
        "feed",
        "enum",
        "poll (REST only) or stream (WebSocket mark ticks between polls; needs riskwatch[stream])",
        "poll",
        FEEDS,
    ),
    Key(
        "ws_public_url",
        "wsurl",
        "public WebSocket, full URL (default Bitget's: wss://ws.bitget.com/v2/ws/public, "
        "v3 /v3/ws/public, demo wss://wspap.bitget.com/...)",
        None,
        nullable=True,
    ),
    Key(
        "ws_private_url",
        "wsurl",
        "private WebSocket, full URL (default Bitget's: wss://ws.bitget.com/v2/ws/private, "
        "v3 /v3/ws/private, demo wss://wspap.bitget.com/...)",
        None,
        nullable=True,
    ),
)
ALERTMANAGER: tuple[Key, ...] = (
    Key(
        "urls",
        "am_urls",
        "Alertmanager base URLs, every one posted to (never load-balanced)",
        required=True,
    ),
    Key(
        "resend",
        "duration",
        "re-post firing alerts this often, at least 1s (endsAt = now + 4 x resend)",
        "1m",
    ),
    Key("timeout", "duration", "HTTP timeout per post", "10s"),
)
METRICS_SECTION: tuple[Key, ...] = (
    Key("listen", "hostport", "Prometheus endpoint, host:port", None, required=True),
)
# Fields shared by `defaults` and each rule: a rule inherits each one it does not set. Adding
# one is a row here plus the field of the same ``attr`` on ``Defaults``, ``Rule`` and, when the
# lifecycle needs it, ``Lifecycle``; the readers, inheritance and schema follow this table.
INHERITED: tuple[Key, ...] = (
    Key(
        "channels",
        "routing",
        "channel names to notify: a list (every severity) or {warning: [...], critical: [...]}",
        [],
    ),
    Key("repeat", "duration", "re-send while still firing; 0 = never", "30m"),
    Key("send_resolved", "bool", "send a line when the alert resolves", True),
    Key("for", "duration", "the condition must hold this long before firing", "0s", field="for_"),
    Key(
        "hysteresis",
        "number",
        "clear only once the value is this far past the threshold",
        0,
        minimum=0,
    ),
    Key(
        "worsen_by",
        "number",
        "re-send at once when the value worsened this much",
        None,
        nullable=True,
        above=0,
    ),
)
ROUTING: tuple[Key, ...] = (
    Key("warning", "names", "channels told of warnings"),
    Key("critical", "names", "channels told of criticals and escalations (default: warning's)"),
)
# Answering back (DESIGN 12): read by ``config.answering``.
ESCALATE_KEY = Key("escalate", "section", "send an unacked critical once to more channels")
QUIET_KEY = Key("quiet_hours", "quiet", "hold warnings in these windows (in timezone)")
DEFAULTS: tuple[Key, ...] = (*INHERITED, ESCALATE_KEY)
ESCALATE: tuple[Key, ...] = (
    Key("after", "duration", "how long a critical may stay unacked", required=True),
    Key("channels", "names", "channel names to escalate to", required=True),
)
QUIET_WINDOW: tuple[Key, ...] = (
    Key("from", "clock", "start, HH:MM", required=True),
    Key(
        "to",
        "clock",
        "end, HH:MM (before from: crosses midnight; 24:00 = end of day)",
        required=True,
    ),
    Key("days", "days", "days the window starts on (mon..sun); default every day"),
)
TELEGRAM: tuple[Key, ...] = (
    Key("token", "string", "bot token (use ${TELEGRAM_BOT_TOKEN})", required=True),
    Key("chats", "chats", "chat ids allowed to command the bot", required=True),
    Key("api_url", "url", "Bot API base URL (tests)", "https://api.telegram.org"),
)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MATCH: tuple[Key, ...] = (
    Key("symbol", "globs", "symbol globs, e.g. BTC* (position rules only)"),
    Key("side", "globs", "long or short (position rules only)"),
    Key("product_type", "globs", "product type globs, e.g. USDT-FUTURES"),
    Key("margin_coin", "globs", "margin coin globs, e.g. USDT"),
    Key("account", "globs", "account name globs, e.g. desk-* (see accounts)"),
)
# One watched account (DESIGN 14); api, product_types, margin_coin and demo override exchange's.
ACCOUNT: tuple[Key, ...] = (
    Key("name", "string", "unique account name, [a-z0-9_-]+", required=True, pattern=NAME_PATTERN),
    Key(
        "credentials",
        "string",
        "prefix of the secrets: PREFIX_API_KEY, PREFIX_API_SECRET, PREFIX_API_PASSPHRASE "
        "(environment, or lower-case files in $CREDENTIALS_DIRECTORY)",
        required=True,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
    ),
    *(k for k in EXCHANGE if k.name in ("api", "product_types", "margin_coin", "demo")),
)
RULE: tuple[Key, ...] = (
    Key("name", "string", "unique name, [a-z0-9_-]+", required=True),
    Key("metric", "metric", "metric name (see the catalogue)", required=True),
    Key("op", "enum", "comparison: value op threshold fires", enum=OPS, required=True),
    Key("warning", "number", "warning threshold"),
    Key("critical", "number", "critical threshold (more dangerous than warning)"),
    Key("scope", "enum", "position (each position) or account (each account)", "position", SCOPES),
    *INHERITED,
    Key("match", "section", "globs restricting what the rule watches"),
    Key("message", "template", "detail text, e.g. '{symbol} at {liq_gap_pct:.2f}%'"),
    Key("labels", "labels", "extra Alertmanager labels, e.g. {team: desk}"),
    QUIET_KEY,
    ESCALATE_KEY,
)
TOP: tuple[Key, ...] = (
    Key("exchange", "section", "where and how to poll Bitget"),
    Key(
        "accounts",
        "accounts",
        "the Bitget accounts to watch (default: one account 'default' with BITGET_API_*)",
    ),
    Key("state_dir", "path", "alert state and outbox ($STATE_DIRECTORY, else XDG state dir)"),
    Key("send_ttl", "duration", "drop undelivered messages older than this", "6h", minimum=1.0),
    Key("timezone", "timezone", "IANA zone of the time on each line, e.g. Europe/Berlin", "UTC"),
    Key(
        "late_after",
        "duration",
        "a message delivered later than this after queueing starts with (delayed 4m12s); 0 = never",
        "1m",
    ),
    Key("history_keep", "duration", "how long `riskwatch history` remembers", "30d"),
    Key(
        "heartbeat",
        "duration",
        "periodic 'still watching' message (at least 1m); off unless set",
        nullable=True,
        minimum=60.0,
    ),
    Key(
        "heartbeat_url",
        "url",
        "GET after each good cycle (healthchecks); off unless set",
        nullable=True,
    ),
    Key("metrics", "section", "Prometheus endpoint; off unless set", nullable=True),
    Key("channels", "channels", "name -> list of apprise URLs"),
    Key(
        "alertmanager",
        "section",
        "post every alert to an Alertmanager cluster; off unless set",
        nullable=True,
    ),
    Key("defaults", "section", "values every rule inherits"),
    Key("rules", "rules", "the alert rules"),
    QUIET_KEY,
    Key("telegram", "section", "two-way Telegram bot; off unless set", nullable=True),
)
PRODUCT_TYPE_NAMES: tuple[str, ...] = PRODUCT_TYPES + tuple(V1_PRODUCT_TYPES)
CHANNEL_PATTERN = r"^[A-Za-z0-9_.-]+$"
RESERVED_PREFIX = "riskwatch-"
# Alertmanager label names (Prometheus' data model) and the ones riskwatch sets itself.
LABEL_PATTERN = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
RESERVED_LABELS = (
    "alertname",
    "severity",
    "account",
    "symbol",
    "side",
    "product_type",
    "margin_coin",
    "source",
)


def minimum(keys: tuple[Key, ...], name: str) -> float:
    """The key's ``minimum`` (0 when it has none): the one value check and schema share."""
    return next((k.minimum or 0.0 for k in keys if k.name == name), 0.0)


def names(keys: tuple[Key, ...]) -> tuple[str, ...]:
    return tuple(k.name for k in keys)
