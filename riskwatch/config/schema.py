"""The JSON Schema (draft 2020-12) of the rules file, for editors (``riskwatch schema``).

Built from the same tables the validator reads (``config.keys``, the metric catalogue, the ops,
the duration pattern), so completion in an editor offers exactly what ``check`` accepts. The
schema cannot express everything ``check`` does (defined channels, unique names, critical
beyond warning, template fields): ``check`` remains the authority.
"""

from __future__ import annotations

from typing import Any

from riskwatch import durations
from riskwatch.config import keys as K
from riskwatch.core import metrics

SCHEMA_ID = "urn:riskwatch:rules-file"  # no public address exists for it


def _kind(key: K.Key) -> dict[str, Any]:
    kinds: dict[str, dict[str, Any]] = {
        "duration": {"$ref": "#/$defs/duration"},
        "bool": {"type": "boolean"},
        "number": {"type": "number"},
        "string": {"type": "string", "minLength": 1},
        "url": {"type": "string", "pattern": "^(https?://|.*\\$\\{)"},
        "wsurl": {"type": "string", "pattern": "^(wss?://|.*\\$\\{)"},
        "path": {"type": "string", "minLength": 1},
        "timezone": {"type": "string", "minLength": 1, "examples": ["UTC", "Europe/Berlin"]},
        "hostport": {"type": "string", "pattern": "^.+:[0-9]{1,5}$"},
        "template": {"type": "string"},
        "names": {"type": "array", "items": {"type": "string"}},
        "routing": {"$ref": "#/$defs/routing"},
        "globs": {"$ref": "#/$defs/globs"},
        "product_types": {
            "type": "array",
            "items": {"enum": list(K.PRODUCT_TYPE_NAMES)},
            "minItems": 1,
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
    if key.nullable:
        out = {"anyOf": [out, {"type": "null"}]}
    out["description"] = key.doc
    if key.default is not None:
        out["default"] = key.default
    return out


def _object(keys: tuple[K.Key, ...], **props: Any) -> dict[str, Any]:
    properties = {k.name: _kind(k) for k in keys if k.kind not in ("section", "channels", "rules")}
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
                    {"type": "string"},
                    {"type": "array", "items": {"type": "string"}, "minItems": 1},
                ]
            },
        },
        defaults=_object(K.DEFAULTS, escalate=_ESCALATE),
        telegram={"anyOf": [_object(K.TELEGRAM), {"type": "null"}]},
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
            "globs": {
                "description": "a glob or a list of globs, case-insensitive (* ? [...])",
                "anyOf": [
                    {"type": "string"},
                    {"type": "array", "items": {"type": "string"}, "minItems": 1},
                ],
            },
            "routing": {
                "description": "a list (every severity) or {warning: [...], critical: [...]}",
                "anyOf": [
                    {"type": "array", "items": {"type": "string"}},
                    _object(K.ROUTING),
                ],
            },
            "exchange": _object(K.EXCHANGE),
            "match": _object(K.MATCH),
            "escalate": _object(K.ESCALATE),
            "quiet_window": _object(K.QUIET_WINDOW),
            "rule": _rule(),
        },
    }
