"""The JSON Schema (draft 2020-12) of the rules file, for editors (``riskwatch schema``).

Built from the same tables the validator reads (``keys`` with its minimums, the metric
catalogue, the ops, the duration pattern), so completion in an editor offers exactly what
``check`` accepts: the same minimums, enums and patterns (tests/test_schema.py compares the
two on generated files). The schema cannot express everything ``check`` does (defined
channels, unique names, critical beyond warning, template fields, what apprise accepts):
``check`` remains the authority.
"""

from __future__ import annotations

import re
from typing import Any

from riskwatch import durations
from riskwatch.config import keys as K
from riskwatch.core import metrics

SCHEMA_ID = "urn:riskwatch:rules-file"  # no public address exists for it


NOT_BLANK = "\\S"  # check refuses empty and whitespace-only strings
PORT = "([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
HOSTPORT = f"^(\\[[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*\\]|[A-Za-z0-9.-]+):{PORT}$"


def _ci(word: str) -> str:
    """A case-insensitive regex for ``word`` (JSON Schema patterns have no flags)."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in word)


def _duration(key: K.Key) -> dict[str, Any]:
    least = key.minimum or 0.0
    if not least:
        return {"$ref": "#/$defs/duration"}
    return {
        "type": "string",
        "pattern": durations.pattern_at_least(least),
        "description": f"a duration of at least {durations.to_text(least)}",
    }


def _number(key: K.Key) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "number"}
    if key.minimum is not None:
        out["minimum"] = key.minimum
    if key.above is not None:
        out["exclusiveMinimum"] = key.above
    return out


def _kind(key: K.Key) -> dict[str, Any]:
    kinds: dict[str, dict[str, Any]] = {
        "duration": _duration(key),
        "bool": {"type": "boolean"},
        "number": _number(key),
        "string": {"type": "string", "pattern": NOT_BLANK},
        "url": {"type": "string", "pattern": "^(https?://[^/]|.*\\$\\{)"},
        "wsurl": {"type": "string", "pattern": "^(wss?://[^/]|.*\\$\\{)"},
        "path": {"type": "string", "pattern": NOT_BLANK},
        "timezone": {"type": "string", "pattern": NOT_BLANK, "examples": ["UTC", "Europe/Berlin"]},
        "hostport": {"type": "string", "pattern": HOSTPORT},
        "template": {"type": "string"},
        "names": {"type": "array", "items": {"type": "string"}},
        "routing": {"$ref": "#/$defs/routing"},
        "globs": {"$ref": "#/$defs/globs"},
        "product_types": {
            "anyOf": [
                {"$ref": "#/$defs/product_type"},
                {"type": "array", "items": {"$ref": "#/$defs/product_type"}, "minItems": 1},
            ]
        },
        "metric": {"type": "string"},
        "am_urls": {
            "anyOf": [
                {"type": "string", "pattern": "^(https?://|.*\\$\\{)"},
                {
                    "type": "array",
                    "items": {"type": "string", "pattern": "^(https?://|.*\\$\\{)"},
                    "minItems": 1,
                },
            ]
        },
        "labels": {
            "type": "object",
            "propertyNames": {
                "pattern": K.LABEL_PATTERN,
                "not": {"enum": list(K.RESERVED_LABELS)},
            },
            "additionalProperties": {"type": ["string", "number"]},
        },
        "enum": {"enum": list(key.enum)},
        "clock": {
            "anyOf": [
                {"type": "string", "pattern": "^([01]?[0-9]|2[0-4]):[0-5][0-9]$"},
                {"type": "integer", "minimum": 0, "maximum": 1440},
            ]
        },
        "days": {
            "anyOf": [
                {"enum": list(K.DAYS)},
                {"type": "array", "items": {"enum": list(K.DAYS)}, "minItems": 1},
            ]
        },
        "chats": {
            "type": "array",
            "items": {"type": ["string", "integer"]},
            "minItems": 1,
        },
        "quiet": {"type": "array", "items": {"$ref": "#/$defs/quiet_window"}},
    }
    out = dict(kinds[key.kind])
    if key.pattern:
        out["pattern"] = key.pattern
    if key.nullable:
        out = {"anyOf": [out, {"type": "null"}]}
    out["description"] = key.doc
    if key.default is not None:
        out["default"] = key.default
    return out


def _object(keys: tuple[K.Key, ...], **props: Any) -> dict[str, Any]:
    skipped = ("section", "channels", "rules", "accounts")
    properties = {k.name: _kind(k) for k in keys if k.kind not in skipped}
    properties.update(props)
    out: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    required = [k.name for k in keys if k.required]
    if required:
        out["required"] = required
    return out


_ESCALATE = {"anyOf": [{"$ref": "#/$defs/escalate"}, {"type": "null"}]}


def _rule() -> dict[str, Any]:
    rule = _object(K.RULE, match={"$ref": "#/$defs/match"}, escalate=_ESCALATE)
    rule["properties"]["name"]["pattern"] = K.NAME_PATTERN
    rule["properties"]["name"]["not"] = {"pattern": f"^{K.RESERVED_PREFIX}"}
    rule["anyOf"] = [{"required": ["warning"]}, {"required": ["critical"]}]
    account = {"properties": {"scope": {"const": "account"}}, "required": ["scope"]}
    rule["if"] = account
    rule["then"] = {
        "properties": {
            "metric": {"enum": list(metrics.ACCOUNT_METRICS)},
            "match": {"not": {"anyOf": [{"required": ["symbol"]}, {"required": ["side"]}]}},
        }
    }
    rule["else"] = {"properties": {"metric": {"enum": list(metrics.POSITION_METRICS)}}}
    return rule


# A side is long or short (any case, spaces around ignored), or a glob.
SIDE = "^\\s*(" + "|".join(_ci(s) for s in K.SIDES) + ")\\s*$|[*?\\[]"


def _globs(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": "a glob or a list of globs, case-insensitive (* ? [...])",
        "anyOf": [item, {"type": "array", "items": item}],
    }


def json_schema() -> dict[str, Any]:
    """The rules file's schema as a plain dict (``json.dumps`` it)."""
    top = _object(
        K.TOP,
        exchange={"$ref": "#/$defs/exchange"},
        metrics={"anyOf": [_object(K.METRICS_SECTION), {"type": "null"}]},
        alertmanager={"anyOf": [_object(K.ALERTMANAGER), {"type": "null"}]},
        channels={
            "type": "object",
            "description": "name -> list of apprise URLs (console:// prints locally)",
            "propertyNames": {"pattern": K.CHANNEL_PATTERN},
            "additionalProperties": {
                "anyOf": [
                    {"$ref": "#/$defs/channel_url"},
                    {"type": "array", "items": {"$ref": "#/$defs/channel_url"}, "minItems": 1},
                ]
            },
        },
        defaults=_object(K.DEFAULTS, escalate=_ESCALATE),
        telegram={"anyOf": [_object(K.TELEGRAM), {"type": "null"}]},
        accounts={
            "type": "array",
            "description": "the Bitget accounts to watch (default: one account 'default' "
            "with BITGET_API_*); names unique",
            "items": {"$ref": "#/$defs/account"},
            "minItems": 1,
        },
        rules={"type": "array", "items": {"$ref": "#/$defs/rule"}},
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "riskwatch rules file",
        **top,
        "$defs": {
            "duration": {
                "description": "30s, 5m, 1h30m, 2d; a bare 0 means zero",
                "anyOf": [
                    {"type": "string", "pattern": durations.PATTERN},
                    {"const": 0},
                ],
            },
            "globs": _globs({"type": "string", "pattern": NOT_BLANK}),
            "sides": _globs({"type": "string", "pattern": SIDE}),
            "product_type": {
                "description": "a v2 product type, or a v1 name (mapped)",
                "type": "string",
                "pattern": "^(" + "|".join(_ci(n) for n in K.PRODUCT_TYPE_NAMES) + ")$",
            },
            "channel_url": {
                "description": "an apprise URL (scheme://...), console:// or console://stderr",
                "type": "string",
                "pattern": "://|\\$\\{",
                "not": {"pattern": "^console:(?!//(stderr)?$)"},
            },
            "routing": {
                "description": "a list (every severity) or {warning: [...], critical: [...]}",
                "anyOf": [
                    {"type": "array", "items": {"type": "string"}},
                    _object(K.ROUTING),
                ],
            },
            "exchange": _object(K.EXCHANGE),
            "match": _object(K.MATCH, side={"$ref": "#/$defs/sides"}),
            "escalate": _object(K.ESCALATE),
            "quiet_window": _object(K.QUIET_WINDOW),
            "account": _object(K.ACCOUNT),
            "rule": _rule(),
        },
    }
