"""Checks of single values in the rules file: URLs, time zones, listen addresses.

Each returns None for a good value or the reason (a phrase that follows the value in an error
message); ``listen_address`` also hands back what the Prometheus exporter binds, so a value
``check`` accepts is one ``run`` can bind. Pure but for the zoneinfo lookup.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit


def bad_http_url(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "is not an http(s) URL"
    return None


def bad_zone(name: str) -> str | None:
    """None when ``name`` is an IANA zone this machine knows (zoneinfo), else the reason."""
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return "is not an IANA time zone (e.g. UTC, Europe/Berlin, America/New_York)"
    return None


def bad_ws_url(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        return "is not a ws:// or wss:// URL"
    return None


def listen_address(value: object, *, any_port: bool = False) -> tuple[str, int]:
    """``metrics.listen`` as ``run`` binds it: (host, port); ``ValueError`` says what to write.

    IPv6 addresses go in brackets (``[::1]:9464``), as in a URL; ``check`` and the exporter
    both call this, so a value ``check`` accepts is one ``run`` can bind."""
    if not isinstance(value, str):
        raise ValueError("expected host:port, e.g. 127.0.0.1:9464")
    host, sep, port = value.rpartition(":")
    lowest = 0 if any_port else 1  # port 0 (the OS picks one) is for tests, not a rules file
    if not sep or not host or not port.isdigit() or not lowest <= int(port) < 65536:
        raise ValueError("expected host:port, e.g. 127.0.0.1:9464 or [::1]:9464")
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise ValueError(f"{host} is not an IPv6 address") from None
        return host[1:-1], int(port)
    if ":" in host:
        raise ValueError(f"put an IPv6 address in brackets: [{host}]:{port}")
    if not re.fullmatch(r"[A-Za-z0-9.-]+", host):
        raise ValueError(f"{host!r} is not a host name or address")
    return host, int(port)


def bad_host_port(value: object) -> str | None:
    try:
        listen_address(value)
    except ValueError as exc:
        return str(exc)
    return None
