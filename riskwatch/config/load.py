"""Load the rules file into a frozen ``Config``, reporting every problem with its line.

``load`` reads, composes (``config.source``), validates section by section with the typed
readers of ``config.reader`` and the key tables of ``config.keys``, and returns model
dataclasses: raw dicts never leave this module. It never touches the network; ``check`` passes
``url_check`` to validate channel URLs with apprise so that this module stays free of it.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from riskwatch import durations
from riskwatch.config import answering
from riskwatch.config import keys as K
from riskwatch.config.accounts import read_accounts
from riskwatch.config.reader import Reader, describe, join
from riskwatch.config.rules import read_inherited, read_rule
from riskwatch.config.source import Problems, Src, parse, read_text
from riskwatch.config.values import bad_host_port, bad_http_url, bad_ws_url, bad_zone
from riskwatch.errors import ConfigError
from riskwatch.model import (
    CONSOLE_URLS,
    DEMO_ALIASES,
    PRODUCT_TYPES,
    V1_PRODUCT_TYPES,
    V3_CATEGORIES,
    Channel,
    Config,
    Defaults,
    ExchangeSettings,
    Rule,
)

UrlCheck = Callable[[str], str | None]


def load(
    path: str,
    *,
    environ: Mapping[str, str] | None = None,
    strict_env: bool = True,
    url_check: UrlCheck | None = None,
    text: str | None = None,
    channel_env: bool = True,
) -> Config:
    """The validated configuration in ``path``; ``ConfigError`` lists every problem.

    ``strict_env=False`` leaves unset ``${VARS}`` empty (for ``status``); ``channel_env=False``
    does so only in channel URLs and ``heartbeat_url`` (``positions`` sends nothing);
    ``url_check`` returns a reason for a channel URL it rejects (apprise in ``check``, ``run``
    and reloads; None skips the check). ``text`` is the file's content when the caller has
    read it already (the daemon keeps exactly what loaded as its last good copy)."""
    cfg, problems = _load(path, environ, strict_env, url_check, text, channel_env)
    if problems or cfg is None:
        raise ConfigError(problems.messages() or [f"{path}: invalid rules file"])
    return cfg


def salvage(
    path: str, *, environ: Mapping[str, str] | None = None, url_check: UrlCheck | None = None
) -> Config | None:
    """What could be read of an invalid file (its channels above all), or None when it does
    not even parse: a daemon with no good rules tells these channels why it is not watching."""
    try:
        cfg, _ = _load(path, environ, True, url_check, None, True)
    except ConfigError:
        return None
    return cfg


def _load(
    path: str,
    environ: Mapping[str, str] | None,
    strict_env: bool,
    url_check: UrlCheck | None,
    text: str | None,
    channel_env: bool,
) -> tuple[Config | None, Problems]:
    env = os.environ if environ is None else environ
    problems = Problems(path)
    try:
        root = parse(read_text(path) if text is None else text, path, problems)
        reader = Reader(problems, env, strict_env)
        cfg = _Loader(reader, path, env, url_check, channel_env).config(root)
    except ConfigError:
        raise
    except (RecursionError, MemoryError) as exc:
        raise ConfigError(f"{path}: too complex to be a rules file") from exc
    except Exception as exc:  # never a traceback for any input; tests assert this stays unused
        raise ConfigError(f"{path}: internal error reading the rules file ({exc!r:.80})") from exc
    return cfg, problems


def resolve_state_dir(path: str, written: str) -> str:
    """``state_dir`` as written in the file at ``path``: relative to the file, ``~`` expanded."""
    base = os.path.dirname(os.path.abspath(path))
    return os.path.join(base, os.path.expanduser(written))


def default_state_dir(environ: Mapping[str, str]) -> str:
    """``$STATE_DIRECTORY`` (systemd), else ``$XDG_STATE_HOME/riskwatch``, else ~/.local/state."""
    if environ.get("STATE_DIRECTORY"):
        return environ["STATE_DIRECTORY"].split(":")[0]
    if environ.get("XDG_STATE_HOME"):
        return os.path.join(environ["XDG_STATE_HOME"], "riskwatch")
    home = environ.get("HOME") or os.path.expanduser("~")
    return os.path.join(home, ".local", "state", "riskwatch")


class _Loader:
    def __init__(
        self,
        r: Reader,
        path: str,
        environ: Mapping[str, str],
        url_check: UrlCheck | None,
        channel_env: bool = True,
    ) -> None:
        self.r = r
        self.path = path
        self.environ = environ
        self.url_check = url_check
        self.alertmanager = False  # with alertmanager: a rule may have no channel
        self.channel_env = channel_env

    def config(self, root: Src | None) -> Config | None:
        if root is None:
            self.r.error((1, 1), "", "the file is empty: expected channels, defaults and rules")
            return None
        top = self.r.mapping(root, "", K.TOP)
        if top is None:
            return None
        cfg = Config(path=self.path, state_dir=default_state_dir(self.environ))
        if "exchange" in top:
            cfg = replace(cfg, exchange=self.exchange(top["exchange"]))
        if "accounts" in top:
            cfg = replace(cfg, accounts=read_accounts(self, top["accounts"], cfg.exchange))
        if "state_dir" in top:
            sd = self.r.checked(top["state_dir"], "state_dir", lambda _: None)
            if sd:
                cfg = replace(cfg, state_dir=resolve_state_dir(self.path, sd))
        cfg = replace(cfg, **self.top_scalars(top))
        if (src := top.get("alertmanager")) is not None and src.value is not None:
            from riskwatch.config.alertmanager import read_alertmanager

            cfg = replace(cfg, alertmanager=read_alertmanager(self.r, src))
            self.alertmanager = True
        channels = self.channels(top["channels"]) if "channels" in top else ()
        names = {c.name for c in channels}
        cfg = replace(cfg, **answering.top(self.r, top, names))
        defaults, d_src = Defaults(), top.get("defaults")
        if d_src is not None:
            defaults = self.defaults(d_src, names)
        rules = self.rules(top["rules"], defaults, names) if "rules" in top else ()
        return replace(cfg, channels=channels, defaults=defaults, rules=rules)

    def top_scalars(self, top: dict[str, Src]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        r = self.r
        ttl_min = K.minimum(K.TOP, "send_ttl")
        if "send_ttl" in top and (v := r.duration(top["send_ttl"], "send_ttl", minimum=ttl_min)):
            out["send_ttl"] = v
        if "late_after" in top:
            out["late_after"] = r.duration(top["late_after"], "late_after")
        if "history_keep" in top:
            out["history_keep"] = r.duration(top["history_keep"], "history_keep", minimum=3600)
        if "timezone" in top:
            zone = r.string(top["timezone"], "timezone")
            if zone is not None and (reason := bad_zone(zone)):
                r.error(top["timezone"], "timezone", f"{describe(zone)} {reason}")
            elif zone is not None:
                out["timezone"] = zone
        if (src := top.get("heartbeat")) is not None and src.value is not None:
            out["heartbeat"] = r.duration(src, "heartbeat", minimum=K.minimum(K.TOP, "heartbeat"))
        if (src := top.get("heartbeat_url")) is not None and src.value is not None:
            out["heartbeat_url"] = self._secret_url(src, "heartbeat_url", bad_http_url)
        out = {k: v for k, v in out.items() if v is not None}
        if (src := top.get("metrics")) is not None and src.value is not None:
            m = r.mapping(src, "metrics", K.METRICS_SECTION)
            if m and "listen" in m:
                reason = bad_host_port(m["listen"].value)
                if reason:
                    r.error(
                        m["listen"], "metrics.listen", f"{describe(m['listen'].value)}: {reason}"
                    )
                else:
                    out["metrics_listen"] = m["listen"].value
        return out

    # ---------------------------------------------------------------- exchange

    def exchange(self, src: Src) -> ExchangeSettings:
        r, p = self.r, "exchange"
        m = r.mapping(src, p, K.EXCHANGE)
        if m is None:
            return ExchangeSettings()
        kw: dict[str, object] = {}
        if "fallback_url" in m and m["fallback_url"].value is None:
            kw["fallback_url"] = None
        if "api" in m and (api := self.interp_enum(m["api"], join(p, "api"), K.API_VERSIONS)):
            kw["api"] = api
        for key in ("base_url", "fallback_url"):
            if (
                key in m
                and m[key].value is not None
                and (u := r.checked(m[key], join(p, key), bad_http_url))
            ):
                kw[key] = u
            elif key == "base_url" and key in m:
                r.error(m[key], join(p, key), "expected a URL, got nothing (null)")
        if "product_types" in m and (
            pts := self.product_types(m["product_types"], join(p, "product_types"))
        ):
            kw["product_types"] = pts
        if "margin_coin" in m and m["margin_coin"].value is not None:
            coin = r.checked(m["margin_coin"], join(p, "margin_coin"), lambda _: None)
            if coin:
                kw["margin_coin"] = coin.upper()
        if "demo" in m and (demo := r.boolean(m["demo"], join(p, "demo"))) is not None:
            kw["demo"] = demo
        for key in ("poll_interval", "stale_after", "timeout"):
            least = K.minimum(K.EXCHANGE, key)
            if key in m and (d := r.duration(m[key], join(p, key), minimum=least)) is not None:
                kw[key] = d
        self.v3_categories(m, kw)
        kw.update(self.feed(m, p, kw.get("api", "auto")))
        return ExchangeSettings(**kw)  # type: ignore[arg-type]

    def v3_categories(self, m: dict[str, Src], kw: dict[str, object]) -> None:
        """v3 takes three categories; with demo: true the S* ones are read as those."""
        pts = kw.get("product_types")
        if kw.get("api") != "v3" or not isinstance(pts, tuple):
            return
        allowed = set(V3_CATEGORIES) | (set(DEMO_ALIASES) if kw.get("demo") else set())
        bad = [pt for pt in pts if pt not in allowed]
        if bad:
            self.r.error(
                m["product_types"],
                join("exchange", "product_types"),
                f"{', '.join(bad)}: the v3 API takes only {', '.join(V3_CATEGORIES)} "
                "(demo trading: set exchange.demo: true and use the normal product types)",
            )

    def feed(self, m: dict[str, Src], p: str, api: object) -> dict[str, object]:
        """``feed`` and the two WebSocket URLs (DESIGN 13). ``stream`` without the websockets
        package is an error here, so ``check`` knows what ``run`` would find (DESIGN 16)."""
        r, kw = self.r, dict[str, object]()
        for key in ("ws_public_url", "ws_private_url"):
            if key in m and m[key].value is not None:
                kw[key] = r.checked(m[key], join(p, key), bad_ws_url)
        if "feed" not in m or not (feed := self.interp_enum(m["feed"], join(p, "feed"), K.FEEDS)):
            return {k: v for k, v in kw.items() if v is not None}
        kw["feed"] = feed
        if feed == "stream" and api == "v1":
            r.error(m["feed"], join(p, "feed"), "stream needs api auto, v2 or v3 (v1 has none)")
        if feed == "stream" and importlib.util.find_spec("websockets") is None:
            r.error(
                m["feed"],
                join(p, "feed"),
                "stream needs the websockets package, which is not installed: "
                "pip install 'riskwatch[stream]'",
            )
        return {k: v for k, v in kw.items() if v is not None}

    def interp_enum(self, src: Src, path: str, choices: tuple[str, ...]) -> str | None:
        def check(v: str) -> str | None:
            return None if v in choices else f"is not one of {', '.join(choices)}"

        return self.r.checked(src, path, check)

    def product_types(self, src: Src, path: str) -> tuple[str, ...] | None:
        out: list[str] = []
        for ipath, item in self.r.items(src, path, single_ok=True):
            v = self.r.checked(item, ipath, lambda _: None)
            if v is None:
                continue
            name = V1_PRODUCT_TYPES.get(v.lower(), v.upper())
            if name not in PRODUCT_TYPES:
                self.r.error(
                    item,
                    ipath,
                    f"{describe(v)} is not one of {', '.join(PRODUCT_TYPES)}"
                    " (or a v1 name: " + ", ".join(V1_PRODUCT_TYPES) + ")",
                )
            elif name not in out:
                out.append(name)
        if not out and src.is_list and not src.value:
            self.r.error(src, path, "must name at least one product type")
        return tuple(out) or None

    # ---------------------------------------------------------------- channels

    def channels(self, src: Src) -> tuple[Channel, ...]:
        r = self.r
        if not src.is_map:
            r.error(
                src, "channels", f"expected a mapping of name: [URLs], got {describe(src.value)}"
            )
            return ()
        out: list[Channel] = []
        for name, value in src.as_map().items():
            path = join("channels", name)
            if not re.match(K.CHANNEL_PATTERN, name):
                r.error(src.keys[name], path, "channel names use letters, digits, _ . -")
                continue
            urls = [
                u
                for ipath, item in r.items(value, path, single_ok=True)
                if (u := self.channel_url(item, ipath)) is not None
            ]
            if value.is_list and not value.value:
                r.error(value, path, "a channel needs at least one URL")
            out.append(Channel(name, tuple(urls)))
        return tuple(out)

    def channel_url(self, src: Src, path: str) -> str | None:
        def check(url: str) -> str | None:
            if url.startswith("console:"):
                known = ", ".join(CONSOLE_URLS)
                return None if url.strip().lower() in CONSOLE_URLS else f"is not one of {known}"
            if "://" not in url:
                return "has no scheme (expected scheme://...; see the apprise documentation)"
            try:
                url, _ = durations.split_send_timeout(url)
            except ValueError as exc:
                return f"has a bad send_timeout option: {exc}"
            return self.url_check(url) if self.url_check else None

        return self._secret_url(src, path, check)

    def _secret_url(self, src: Src, path: str, check: Callable[[str], str | None]) -> str | None:
        """A URL holding a token; with ``channel_env=False`` its unset ${VARS} are left empty."""
        strict = self.r.strict_env
        self.r.strict_env = strict and self.channel_env
        try:
            return self.r.checked(src, path, check, secret=True)
        finally:
            self.r.strict_env = strict

    # ---------------------------------------------------------------- defaults and rules

    def defaults(self, src: Src, channel_names: set[str]) -> Defaults:
        m = self.r.mapping(src, "defaults", K.DEFAULTS)
        if m is None:
            return Defaults()
        kw = read_inherited(self.r, m, "defaults", channel_names)
        kw.update(answering.defaults_extras(self.r, m, channel_names))
        return Defaults(**kw)  # type: ignore[arg-type]

    def rules(self, src: Src, defaults: Defaults, channel_names: set[str]) -> tuple[Rule, ...]:
        seen: dict[str, int] = {}
        out: list[Rule] = []
        for path, item in self.r.items(src, "rules"):
            rule = read_rule(
                self.r,
                item,
                path,
                defaults,
                channel_names,
                seen,
                channels_required=not self.alertmanager,
            )
            if rule is not None:
                out.append(rule)
        return tuple(out)
