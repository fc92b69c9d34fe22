"""The last rules file that loaded, kept in the state dir so a broken file at boot never
leaves the account unwatched (DESIGN section 16).

The copy is the file exactly as written (``${VAR}`` references, never their values), so it
holds no secret as long as the file holds none. A file that writes a channel URL or
``heartbeat_url`` literally (no ``${VAR}`` in it) may carry a token: no copy is kept for it,
and the caller says why, because the state dir must never hold a secret.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping

from riskwatch.config.load import default_state_dir, resolve_state_dir
from riskwatch.config.reader import Reader
from riskwatch.config.source import Problems, Src, parse, read_text
from riskwatch.errors import ConfigError

FILENAME = "rules.last-good.yaml"


def path_in(state_dir: str) -> str:
    return os.path.join(state_dir, FILENAME)


def read(state_dir: str) -> str | None:
    """The kept copy's text, or None when there is none (or it cannot be read)."""
    if not os.path.exists(path_in(state_dir)):
        return None
    try:
        return read_text(path_in(state_dir))
    except ConfigError:
        return None


def save(state_dir: str, text: str, source: str) -> str | None:
    """Keep ``text`` (which just loaded from ``source``) as the last good copy; return None,
    or why no copy was kept (a literal URL that may hold a token, an unwritable state dir)."""
    literal = literal_urls(text, source)
    if literal:
        return (
            f"no last-good copy of the rules kept: {literal[0]} is written literally and may "
            "hold a token; write it with ${VAR} references so that a copy can be kept"
        )
    if read(state_dir) == text:
        return None
    try:
        os.makedirs(state_dir, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=state_dir, prefix=".rules.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path_in(state_dir))
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        return f"cannot keep a last-good copy of the rules in {state_dir}: {exc.strerror or exc}"
    return None


def literal_urls(text: str, source: str) -> list[str]:
    """Dotted paths of the channel URLs and heartbeat_url in ``text`` written without
    ``${VAR}``; ``console://`` URLs hold nothing and are not counted."""
    root = _root(text, source)
    if root is None:
        return []
    top: dict[str, Src] = root.value  # type: ignore[assignment]
    out = []
    hb = top.get("heartbeat_url")
    if hb is not None and isinstance(hb.value, str) and "${" not in hb.value:
        out.append("heartbeat_url")
    channels = top.get("channels")
    if channels is not None and isinstance(channels.value, dict):
        for name, src in channels.value.items():
            items = src.value if src.is_list else [src]
            for i, item in enumerate(items):
                url = item.value if isinstance(item, Src) else None
                if isinstance(url, str) and "${" not in url and not url.startswith("console:"):
                    out.append(f"channels.{name}[{i}]")
    return out


def locate_state_dir(path: str, environ: Mapping[str, str]) -> str:
    """Where the state dir is, even when the file at ``path`` is invalid: its ``state_dir``
    when that much can be read, else the default ($STATE_DIRECTORY under systemd)."""
    try:
        root = _root(read_text(path), path)
    except ConfigError:
        root = None
    src = root.value.get("state_dir") if root is not None and isinstance(root.value, dict) else None
    if isinstance(src, Src) and isinstance(src.value, str) and src.value.strip():
        value = Reader(Problems(path), environ).interpolate(src.value, src, "state_dir")
        if value:
            return resolve_state_dir(path, value)
    return default_state_dir(environ)


def _root(text: str, source: str) -> Src | None:
    try:
        root = parse(text, source, Problems(source))
    except ConfigError:
        return None
    return root if root is not None and root.is_map else None
