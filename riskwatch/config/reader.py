"""Typed readers over located YAML values: each returns the value or reports why not.

Every reader records a problem (``FILE:LINE:COL: path: reason``) and returns ``None`` instead
of raising, so one pass over the file finds every mistake. Interpolation of ``${VAR}`` lives
here too, because its errors must name the variable and never the value it expands to.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Callable, Mapping

from riskwatch import durations
from riskwatch.config.keys import Key
from riskwatch.config.source import UNREADABLE, Problems, Src
from riskwatch.logs import register_secret

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Unknown keys that are not a typo of an existing key but of a concept, with the right key.
HINTS: Mapping[str, str] = {
    "threshold": "use 'warning' and/or 'critical'",
    "treshold": "use 'warning' and/or 'critical'",
    "thresholds": "use 'warning' and/or 'critical'",
    "level": "use 'warning' and/or 'critical'",
    "channel": "did you mean 'channels'?",
    "filter": "did you mean 'match'?",
    "interval": "did you mean 'poll_interval'?",
}


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def describe(value: object) -> str:
    """A short, safe description of a value for an error message."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, UNREADABLE):
        return "an unreadable value"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


class Reader:
    def __init__(
        self, problems: Problems, environ: Mapping[str, str], strict_env: bool = True
    ) -> None:
        self.problems = problems
        self.environ = environ
        self.strict_env = strict_env
        self.unset: set[str] = set()  # variables left empty (strict_env=False)
        # Paths of mappings with an unknown key (a typo such as defaults.chanels, "" for the
        # top): errors that would only follow from the typo are not repeated for every rule.
        self.unsure: set[str] = set()

    def error(self, where: Src | tuple[int, int], path: str, message: str) -> None:
        if isinstance(where, Src) and isinstance(where.value, UNREADABLE):
            return  # already reported where it was read
        self.problems.add(where, path, message)

    # ---------------------------------------------------------------- structure

    def mapping(self, src: Src, path: str, table: tuple[Key, ...]) -> dict[str, Src] | None:
        """The mapping's entries, after reporting unknown and missing keys."""
        if not src.is_map:
            self.error(src, path, f"expected a mapping (key: value), got {describe(src.value)}")
            self.unsure.add(path)
            return None
        entries: dict[str, Src] = src.value  # type: ignore[assignment]
        allowed = [k.name for k in table]
        for key in entries:
            if key not in allowed:
                self.error(src.keys[key], join(path, key), unknown_key(key, allowed))
                self.unsure.add(path)
        for k in table:
            if k.required and k.name not in entries and not src.merged:
                self.error(src, path, f"missing required key '{k.name}'")
        return {k: v for k, v in entries.items() if k in allowed}

    def items(self, src: Src, path: str, *, single_ok: bool = False) -> list[tuple[str, Src]]:
        """(path, item) pairs of a list; a lone scalar counts as a list of one if allowed."""
        if single_ok and not src.is_list and not src.is_map:
            return [(path, src)]
        if not src.is_list:
            self.error(src, path, f"expected a list, got {describe(src.value)}")
            return []
        return [(f"{path}[{i}]", item) for i, item in enumerate(src.as_list())]

    # ---------------------------------------------------------------- scalars

    def string(self, src: Src, path: str, *, empty_ok: bool = False) -> str | None:
        if not isinstance(src.value, str):
            self.error(src, path, f"expected a string, got {describe(src.value)}")
            return None
        if not empty_ok and not src.value.strip():
            self.error(src, path, "must not be empty")
            return None
        return src.value

    def number(self, src: Src, path: str) -> float | None:
        v = src.value
        if isinstance(v, bool) or not isinstance(v, int | float):
            self.error(src, path, f"expected a number, got {describe(v)}")
            return None
        try:
            f = float(v)
        except OverflowError:
            f = math.inf
        if not math.isfinite(f):
            self.error(src, path, f"must be a finite number, got {describe(v)}")
            return None
        return f

    def boolean(self, src: Src, path: str) -> bool | None:
        if not isinstance(src.value, bool):
            self.error(src, path, f"expected true or false, got {describe(src.value)}")
            return None
        return src.value

    def duration(self, src: Src, path: str, *, minimum: float = 0.0) -> float | None:
        try:
            seconds = durations.parse(src.value)
        except ValueError as exc:
            self.error(src, path, str(exc))
            return None
        if seconds < minimum:
            self.error(src, path, f"must be at least {durations.to_text(minimum)}")
            return None
        return seconds

    def enum(self, src: Src, path: str, choices: tuple[str, ...]) -> str | None:
        v = src.value
        if not isinstance(v, str) or v not in choices:
            self.error(src, path, f"{describe(v)} is not one of {', '.join(choices)}")
            return None
        return v

    def checked(
        self, src: Src, path: str, check: Callable[[str], str | None], *, secret: bool = False
    ) -> str | None:
        """A string, ``${VAR}``-interpolated, then validated by ``check`` (None = ok).

        A failed check is reported against the text as written, so a secret that came from
        a variable never appears in an error."""
        raw = self.string(src, path)
        if raw is None:
            return None
        value = self.interpolate(raw, src, path, secret=secret)
        if value is None:
            return None
        reason = check(value) if not self.unset.intersection(_VAR.findall(raw)) else None
        if reason:
            shown = "this URL" if secret else describe(raw)  # never the expanded secret
            self.error(src, path, f"{shown} {reason}")
            return None
        return value

    # ---------------------------------------------------------------- interpolation

    def interpolate(self, raw: str, src: Src, path: str, *, secret: bool = False) -> str | None:
        """Replace each ``${VAR}`` from the environment, else ``$CREDENTIALS_DIRECTORY``."""
        ok = True

        def one(m: re.Match[str]) -> str:
            nonlocal ok
            value = self._variable(m.group(1), src, path)
            if value is None:
                ok = False
                return ""
            if secret:
                register_secret(value)
            return value

        result = _VAR.sub(one, raw)
        if "${" in _VAR.sub("", raw):
            self.error(src, path, "malformed ${...}: write ${NAME} (letters, digits, _)")
            return None
        return result if ok else None

    def _variable(self, name: str, src: Src, path: str) -> str | None:
        if name in self.environ:
            return self.environ[name]
        cred_dir = self.environ.get("CREDENTIALS_DIRECTORY")
        if cred_dir:
            file = os.path.join(cred_dir, name.lower())
            if os.path.isfile(file):
                try:
                    with open(file, encoding="utf-8") as fh:
                        return fh.read().strip()
                except (OSError, UnicodeDecodeError) as exc:
                    self.error(src, path, f"${{{name}}}: cannot read credential {file}: {exc}")
                    return None
        if not self.strict_env:
            self.unset.add(name)
            return ""
        self.error(
            src,
            path,
            f"${{{name}}} is not set (set the environment variable, or put it in the file "
            f"$CREDENTIALS_DIRECTORY/{name.lower()})",
        )
        return None


def unknown_key(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.7)
    hint = HINTS.get(key.lower()) or (f"did you mean '{close[0]}'?" if close else "")
    return (
        f"unknown key '{key}'"
        + (f"; {hint}" if hint else "")
        + ("" if hint or len(allowed) > 12 else f" (allowed: {', '.join(allowed)})")
    )
