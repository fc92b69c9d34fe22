"""The rules file's answering-back keys (DESIGN 12): ``timezone``, ``quiet_hours``,
``escalate`` and ``telegram``.

Split from ``config.load`` so that the loader only calls in here: each reader reports its
problems located (``FILE:LINE:COL: path: reason``) and returns the model's frozen values.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from riskwatch import durations
from riskwatch.config import keys as K
from riskwatch.config.reader import Reader, describe, join
from riskwatch.config.source import Src
from riskwatch.model import Config, Defaults, Escalate, QuietWindow, TelegramSettings

_CLOCK = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")
_CHAT_ID = re.compile(r"^-?\d{1,20}$")
DEFAULT_API_URL = "https://api.telegram.org"


def top(r: Reader, m: dict[str, Src], channel_names: set[str]) -> dict[str, Any]:
    """Top-level ``quiet_hours`` and ``telegram`` as ``Config`` fields (``timezone`` is read
    by the loader: it also sets the time on every line)."""
    out: dict[str, Any] = {}
    if "quiet_hours" in m:
        out["quiet_hours"] = quiet_hours(r, m["quiet_hours"], "quiet_hours") or ()
    if (src := m.get("telegram")) is not None and src.value is not None:
        tg = telegram(r, src, "telegram")
        if tg is not None:
            out["telegram"] = tg
    return out


def _clock(r: Reader, src: Src, path: str) -> int | None:
    """``HH:MM`` as minutes of the day (``24:00`` = 1440, the end of the day). YAML 1.1 reads
    an unquoted ``23:00`` as the base-60 integer 1380, which is that very count of minutes."""
    value = src.value
    if isinstance(value, int) and not isinstance(value, bool):
        minutes: int | None = value if 0 <= value <= 1440 else None
    else:
        text = value if isinstance(value, str) else None
        m = _CLOCK.match(text.strip()) if text else None
        minutes = int(m.group(1)) * 60 + int(m.group(2)) if m else None
    if minutes is None or minutes > 1440:
        r.error(src, path, f"{describe(value)} is not a time of day HH:MM (quote it)")
        return None
    return minutes


def quiet_hours(r: Reader, src: Src, path: str) -> tuple[QuietWindow, ...] | None:
    out: list[QuietWindow] = []
    for ipath, item in r.items(src, path):
        w = r.mapping(item, ipath, K.QUIET_WINDOW)
        if w is None:
            continue
        start = _clock(r, w["from"], join(ipath, "from")) if "from" in w else None
        end = _clock(r, w["to"], join(ipath, "to")) if "to" in w else None
        days = _days(r, w["days"], join(ipath, "days")) if "days" in w else tuple(range(7))
        if start is not None and end is not None and start % 1440 == end:
            r.error(item, ipath, "from and to are the same time: a window needs a length")
            continue
        if start is None or end is None or days is None:
            continue
        out.append(QuietWindow(start=start % 1440, end=end, days=days))
    return tuple(out)


def _days(r: Reader, src: Src, path: str) -> tuple[int, ...] | None:
    found: list[int] = []
    for ipath, item in r.items(src, path, single_ok=True):
        name = item.value.strip().lower()[:3] if isinstance(item.value, str) else None
        if name not in K.DAYS:
            r.error(item, ipath, f"{describe(item.value)} is not a day: {', '.join(K.DAYS)}")
            return None
        if (d := K.DAYS.index(name)) not in found:
            found.append(d)
    if not found and src.is_list:
        r.error(src, path, "name at least one day (or leave days out: every day)")
    return tuple(sorted(found)) or None


def escalate(r: Reader, src: Src, path: str, channel_names: set[str]) -> Escalate | None:
    m = r.mapping(src, path, K.ESCALATE)
    if m is None or "after" not in m or "channels" not in m:
        return None
    from riskwatch.config.rules import channel_refs  # rules reads a rule's extras from here

    after = r.duration(m["after"], join(path, "after"), minimum=1)
    channels = channel_refs(r, m["channels"], join(path, "channels"), channel_names)
    if not channels and m["channels"].is_list:
        r.error(m["channels"], join(path, "channels"), "name at least one channel")
    if after is None or not channels:
        return None
    return Escalate(after=after, channels=channels)


def defaults_extras(r: Reader, m: dict[str, Src], channel_names: set[str]) -> dict:
    src = m.get("escalate")
    if src is None or src.value is None:
        return {}
    return {"escalate": escalate(r, src, "defaults.escalate", channel_names)}


def rule_extras(
    r: Reader, m: dict[str, Src], path: str, defaults: Defaults, channel_names: set[str]
) -> dict[str, object]:
    """A rule's ``quiet_hours`` (None: the top level's) and ``escalate`` (inherited from
    ``defaults``; ``escalate: null`` turns it off for the rule)."""
    out: dict[str, object] = {"escalate": defaults.escalate}
    if "quiet_hours" in m:
        out["quiet_hours"] = quiet_hours(r, m["quiet_hours"], join(path, "quiet_hours"))
    if "escalate" in m:
        src = m["escalate"]
        p = join(path, "escalate")
        out["escalate"] = None if src.value is None else escalate(r, src, p, channel_names)
    return out


def telegram(r: Reader, src: Src, path: str) -> TelegramSettings | None:
    m = r.mapping(src, path, K.TELEGRAM)
    if m is None or "token" not in m or "chats" not in m:
        return None
    token = r.checked(m["token"], join(path, "token"), lambda _: None, secret=True)
    if token and _token(token):  # never shown: it is a secret, whatever its shape
        r.error(
            m["token"], join(path, "token"), "is not a bot token (123456:ABC..., from @BotFather)"
        )
        token = None
    chats: list[str] = []
    for ipath, item in r.items(m["chats"], join(path, "chats"), single_ok=True):
        if isinstance(item.value, int) and not isinstance(item.value, bool):
            item = Src(str(item.value), item.line, item.col)
        chat = r.checked(item, ipath, _chat_id)
        if chat and chat not in chats:
            chats.append(chat)
    api_url = DEFAULT_API_URL
    if "api_url" in m:
        api_url = r.checked(m["api_url"], join(path, "api_url"), _http) or DEFAULT_API_URL
    if not token or not chats:
        if m["chats"].is_list and not m["chats"].value:
            r.error(m["chats"], join(path, "chats"), "name at least one chat id")
        return None
    return TelegramSettings(token=token, chats=tuple(chats), api_url=api_url.rstrip("/"))


def _token(value: str) -> str | None:
    return None if re.match(r"^\d+:[A-Za-z0-9_-]+$", value) else "is not a bot token (123:ABC...)"


def _chat_id(value: str) -> str | None:
    return None if _CHAT_ID.match(value.strip()) else "is not a chat id (a number, e.g. 12345)"


def _http(value: str) -> str | None:
    return None if value.startswith(("http://", "https://")) else "is not an http(s) URL"


# --------------------------------------------------------------------------- check


def _window(w: QuietWindow) -> str:
    days = "every day" if len(w.days) == 7 else ",".join(K.DAYS[d] for d in w.days)
    return f"{w.start // 60:02d}:{w.start % 60:02d}-{w.end // 60:02d}:{w.end % 60:02d} {days}"


def summary(cfg: Config) -> list[str]:
    """``check``'s lines for answering back (none when nothing of it is configured)."""
    out: list[str] = []
    if cfg.quiet_hours:
        quiet = "; ".join(_window(w) for w in cfg.quiet_hours)
        out.append(f"quiet hours ({cfg.timezone}): {quiet}")
    for r in cfg.rules:
        extra = []
        if r.quiet_hours is not None:
            extra.append("quiet hours " + ("; ".join(map(_window, r.quiet_hours)) or "none"))
        if r.escalate is not None:
            extra.append(
                f"escalate after {durations.to_text(r.escalate.after)}"
                f" -> {', '.join(r.escalate.channels)}"
            )
        if extra:
            out.append(f"rule {r.name}: {', '.join(extra)}")
    if cfg.telegram is not None:
        n = len(cfg.telegram.chats)
        out.append(f"telegram bot: obeys {n} chat{'' if n == 1 else 's'}")
    return out


def lint(cfg: Config) -> list[str]:
    tg = cfg.telegram
    if tg is None:
        return []
    out: list[str] = []
    host = urlsplit(tg.api_url).hostname or ""
    if tg.api_url.startswith("http://") and host not in ("127.0.0.1", "::1", "localhost"):
        out.append(f"telegram.api_url: plain http to {host}: the bot token travels unencrypted")
    own = 0
    for ch in cfg.channels:
        for i, url in enumerate(ch.urls):
            parsed = parse_tgram(url)
            if parsed is None or parsed[0] != tg.token:
                continue
            own += 1
            for chat in parsed[1]:
                if chat not in tg.chats:
                    out.append(
                        f"channels.{ch.name}[{i}]: chat {chat} is not in telegram.chats: "
                        "its buttons and commands will be ignored"
                    )
    if not own:
        out.append(
            "telegram: no channel has a tgram:// URL with this bot's token: alerts will carry "
            "no buttons (commands still work)"
        )
    return out


def parse_tgram(url: str) -> tuple[str, tuple[str, ...]] | None:
    """(token, chat ids) of a ``tgram://TOKEN/CHAT[/CHAT...]`` URL; None for other URLs."""
    if not url.lower().startswith("tgram://"):
        return None
    path = url[len("tgram://") :].split("?", 1)[0]
    parts = [p for p in path.replace(",", "/").split("/") if p]
    if not parts:
        return None
    if parts[0].lower().startswith("bot"):
        parts[0] = parts[0][3:]
    return parts[0], tuple(parts[1:])
