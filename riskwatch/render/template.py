"""A rule's ``message``: a ``str.format`` template restricted to the alert's own fields.

Templates come from a file a person edits, and the formatted text goes to a chat service, so
the formatter must not become a way to reach Python objects: ``{symbol.__class__}`` or
``{symbol[0]}`` would walk attributes and items, and a huge width (``{value:999999999}``)
would eat memory. ``check`` rejects all of that when the rules file is loaded, so a mistake
is reported by ``riskwatch check`` with its line; ``fill`` is the runtime side and never
raises (a value of the wrong type is shown plainly rather than losing an alert).
"""

from __future__ import annotations

import difflib
import re
import string
from collections.abc import Iterable, Mapping
from typing import Any

from riskwatch.core.metrics import CATALOGUE

# The alert's fields (DESIGN section 8, message templates), plus every metric of the catalogue.
BASE_FIELDS: tuple[str, ...] = (
    "rule",
    "severity",
    "symbol",
    "side",
    "product_type",
    "margin_coin",
    "account",
    "metric",
    "value",
    "threshold",
)
FIELDS: frozenset[str] = frozenset(BASE_FIELDS) | frozenset(m.name for m in CATALOGUE)
MISSING = "n/a"  # shown for a field that has no value for this alert
MAX_LENGTH = 2000  # a template longer than this is a mistake, not a message

# The standard format-spec mini-language, with widths and precisions capped at 3 digits.
_SPEC = re.compile(r"^(?:.?[<>=^])?[-+ ]?z?#?0?(?:\d{1,3})?[,_]?(?:\.\d{1,3})?[bcdeEfFgGnosxX%]?$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _pieces(tpl: str) -> Iterable[tuple[str, str | None, str | None, str | None]]:
    return string.Formatter().parse(tpl)


def check(tpl: str) -> str | None:
    """Return ``None`` when ``tpl`` is a safe template, else the reason in a few words."""
    if len(tpl) > MAX_LENGTH:
        return f"longer than {MAX_LENGTH} characters"
    if "\n" in tpl or "\r" in tpl:
        return "must be one line: each alert is one line of the message"
    try:
        pieces = list(_pieces(tpl))
    except ValueError as exc:  # unbalanced braces and the like
        return f"{exc} (write {{{{ and }}}} for literal braces)"
    for _, name, spec, conversion in pieces:
        if name is None:
            continue
        reason = _check_field(name, spec or "", conversion)
        if reason:
            return reason
    return None


def _check_field(name: str, spec: str, conversion: str | None) -> str | None:
    if name == "" or name.isdigit():
        return "positional fields like {} or {0} are not allowed: name a field, e.g. {symbol}"
    if not _NAME.match(name):
        return f"{{{name}}}: only plain field names are allowed (no attributes, no indexing)"
    if name not in FIELDS:
        close = difflib.get_close_matches(name, sorted(FIELDS), n=1)
        hint = f"did you mean {{{close[0]}}}? " if close else ""
        return f"{{{name}}}: unknown field; {hint}fields: {', '.join(BASE_FIELDS)} and metric names"
    if conversion is not None:
        return f"{{{name}!{conversion}}}: conversions (!r, !s, !a) are not allowed"
    if "{" in spec or "}" in spec:
        return f"{{{name}:{spec}}}: nested fields in a format spec are not allowed"
    if not _SPEC.match(spec):
        return f"{{{name}:{spec}}}: invalid format spec (e.g. {{value:.2f}})"
    return None


class _SafeFormatter(string.Formatter):
    """Formats plain names only; anything else was rejected by ``check`` and shows as-is."""

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> tuple[Any, str]:
        if not _NAME.match(field_name):
            raise ValueError(field_name)
        return kwargs.get(field_name), field_name

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        return value  # conversions never run code here

    def format_field(self, value: Any, format_spec: str) -> str:
        if value is None:
            return MISSING
        if format_spec and not _SPEC.match(format_spec):
            return str(value)
        try:
            return format(value, format_spec)
        except (ValueError, TypeError):
            return str(value)


_FORMATTER = _SafeFormatter()


def fill(tpl: str, values: Mapping[str, object]) -> str:
    """Format ``tpl`` with ``values``; never raises (an unusable template comes back as is)."""
    if check(tpl) is not None:
        return tpl
    safe = {k: v for k, v in values.items() if k in FIELDS}
    try:
        return _FORMATTER.vformat(tpl, (), safe)
    except Exception:  # a last resort: an alert must not be lost to its decoration
        return tpl
