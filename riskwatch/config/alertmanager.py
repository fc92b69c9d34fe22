"""The ``alertmanager:`` section and a rule's ``labels:`` (DESIGN section 15).

Split from ``load`` for size. An Alertmanager URL is a base URL (``http://host:9093``, or with
the path prefix of ``--web.route-prefix`` / a reverse proxy); riskwatch appends
``/api/v2/alerts``. It may carry basic-auth credentials, so it is read as a secret: an error
quotes it as written, never expanded.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from riskwatch.config import keys as K
from riskwatch.config.reader import Reader, describe, join
from riskwatch.config.source import Src
from riskwatch.logs import register_secret
from riskwatch.model import AlertmanagerSettings

MIN_RESEND = 1.0


def base_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be an Alertmanager base URL (None: it can). Contacts nothing."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a port that is not a number
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an http(s) URL (expected e.g. http://127.0.0.1:9093)"
    if parts.query or parts.fragment:
        return "must not have a query or a fragment (riskwatch appends /api/v2/alerts)"
    if parts.path.rstrip("/").endswith("/api/v2/alerts"):
        return "is the alerts endpoint: give the base URL (riskwatch appends /api/v2/alerts)"
    if port == 0:
        return "has port 0"
    return None


def read_alertmanager(r: Reader, src: Src) -> AlertmanagerSettings | None:
    m = r.mapping(src, "alertmanager", K.ALERTMANAGER)
    if m is None:
        return None
    urls: list[str] = []
    if "urls" in m:
        path = "alertmanager.urls"
        for ipath, item in r.items(m["urls"], path, single_ok=True):
            url = r.checked(item, ipath, base_url_problem, secret=True)
            if url is None:
                continue
            url = url.rstrip("/")
            if url in urls:
                r.error(item, ipath, "this URL is listed twice")
                continue
            _register_password(url)
            urls.append(url)
        if m["urls"].is_list and not m["urls"].value:
            r.error(m["urls"], path, "needs at least one Alertmanager URL")
    kw: dict[str, float] = {}
    for key, minimum in (("resend", MIN_RESEND), ("timeout", 0.1)):
        if key in m and (d := r.duration(m[key], join("alertmanager", key), minimum=minimum)):
            kw[key] = d
    if not urls:
        return None
    return AlertmanagerSettings(urls=tuple(urls), **kw)


def _register_password(url: str) -> None:
    """The password is redacted from logs; so is a user name that comes alone (a token)."""
    parts = urlsplit(url)
    if parts.password:
        register_secret(parts.password)
    elif parts.username:
        register_secret(parts.username)


def read_labels(r: Reader, src: Src, path: str) -> tuple[tuple[str, str], ...] | None:
    """A rule's extra labels: ``{name: value}``, names as Prometheus allows, none of the labels
    riskwatch sets itself (an alert's identity in Alertmanager must stay riskwatch's)."""
    if not src.is_map:
        r.error(src, path, f"expected a mapping of label: value, got {describe(src.value)}")
        return None
    out: list[tuple[str, str]] = []
    for name, value in src.value.items():  # type: ignore[attr-defined]
        lpath = join(path, name)
        if not re.match(K.LABEL_PATTERN, name) or name.startswith("__"):
            r.error(src.keys[name], lpath, "label names use letters, digits and _ (not __...)")
            continue
        if name in K.RESERVED_LABELS:
            r.error(src.keys[name], lpath, f"riskwatch sets the label '{name}' itself")
            continue
        text = value.value
        if isinstance(text, bool) or not isinstance(text, str | int | float):
            r.error(value, lpath, f"expected a string, got {describe(text)}")
            continue
        out.append((name, str(text)))
    return tuple(sorted(out))
