"""The rules file as a tree of located values, so every problem can name its line and column.

``yaml.safe_load`` forgets where a value came from and silently keeps the last of two duplicate
keys; this module composes the document into YAML nodes (``SafeLoader``, no Python objects) and
turns them into ``Src`` values that remember their position. It is the one place that touches
PyYAML: its errors become located ``ConfigError`` problems here. Hostile inputs are bounded:
a file size cap, a node count cap (alias bombs), a depth cap (deep nesting), a scalar length
cap (checked before YAML resolves a value, so no regex or number conversion ever runs on a
megabyte), and a time budget. YAML 1.1's sexagesimal numbers (``1:30`` = 90) are not resolved
at all: riskwatch's durations are strings, and converting ``1:1:1:...`` takes quadratic time.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import yaml
import yaml.reader
from yaml.constructor import SafeConstructor

from riskwatch.errors import ConfigError

MAX_BYTES = 1 << 20
MAX_NODES = 100_000
MAX_DEPTH = 50
MAX_SCALAR = 1000  # characters in one value
MAX_SECONDS = 5.0  # building the tree from a composed document
_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"


class _Loader(yaml.SafeLoader):
    """SafeLoader without sexagesimal ints and floats, and without resolving long scalars."""

    yaml_implicit_resolvers = {  # noqa: RUF012 - PyYAML's own class attribute, replaced
        ch: [(tag, rx) for tag, rx in resolvers if tag not in (_INT, _FLOAT)]
        for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def resolve(self, kind: type, value: object, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode and isinstance(value, str) and len(value) > MAX_SCALAR:
            return _STR  # refused by the builder; never matched against a regex
        return super().resolve(kind, value, implicit)


# PyYAML's own int and float patterns, minus their sexagesimal alternatives.
_Loader.add_implicit_resolver(
    _INT,
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


@dataclass(slots=True)
class Src:
    """A value from the file and where it starts (1-based line and column).

    ``value`` is a scalar (str, int, float, bool, None, date), a ``list[Src]`` or a
    ``dict[str, Src]``; for mappings, ``keys`` holds each key's own position."""

    value: object
    line: int
    col: int
    keys: dict[str, tuple[int, int]] = field(default_factory=dict)
    merged: bool = False  # a merge key (<<) was refused here: its keys are missing, say so once

    @property
    def is_map(self) -> bool:
        return isinstance(self.value, dict)

    @property
    def is_list(self) -> bool:
        return isinstance(self.value, list)

    def as_list(self) -> list[Src]:
        """The items of a list value (empty for anything else): typed, for the readers."""
        return self.value if isinstance(self.value, list) else []

    def as_map(self) -> dict[str, Src]:
        """The entries of a mapping value (empty for anything else)."""
        return self.value if isinstance(self.value, dict) else {}


class Problems:
    """Collects every located problem so ``check`` can report all of them at once."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.items: list[tuple[int, int, str]] = []

    def add(self, where: Src | tuple[int, int], dotted: str, message: str) -> None:
        line, col = (where.line, where.col) if isinstance(where, Src) else where
        prefix = f"{dotted}: " if dotted else ""
        self.items.append((line, col, f"{self.path}:{line}:{col}: {prefix}{message}"))

    def messages(self) -> list[str]:
        return [m for _, _, m in sorted(self.items, key=lambda t: (t[0], t[1]))]

    def __bool__(self) -> bool:
        return bool(self.items)


def read_text(path: str) -> str:
    """The file's text; unreadable, oversized or non-UTF-8 files are a ``ConfigError``."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the rules file: {exc.strerror or exc}") from exc
    if len(data) > MAX_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_BYTES // 1024} KiB: not a rules file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}:1: not UTF-8 text (byte {exc.start})") from exc


def parse(text: str, path: str, problems: Problems) -> Src | None:
    """Compose ``text`` into a ``Src`` tree; syntax errors are raised, the rest collected."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{mark.line + 1}:{mark.column + 1}: " if mark else ""
        what = ": ".join(s for s in (exc.context, exc.problem) if s) or "invalid YAML"
        if "block scalar" in what:
            what += ' (a bare > or | starts a block: quote it, e.g. op: ">=")'
        raise ConfigError(f"{path}:{where}YAML syntax error: {what}") from exc
    except yaml.reader.ReaderError as exc:  # control characters, binary junk
        line = text[: exc.position].count("\n") + 1
        raise ConfigError(
            f"{path}:{line}:1: not a YAML text file: special character #x{exc.character:04x}"
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not a YAML file: {_one_line(exc)}") from exc
    except RecursionError as exc:
        raise ConfigError(f"{path}: nested too deeply to be a rules file") from exc
    if node is None:
        return None
    return _Builder(problems).build(node, 0)


class _Builder:
    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        self.count = 0
        self.constructor = SafeConstructor()
        self.deadline = time.monotonic() + MAX_SECONDS

    def build(self, node: yaml.Node, depth: int) -> Src:
        self.count += 1
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        if self.count > MAX_NODES:
            raise ConfigError(f"{self.problems.path}:{line}:{col}: too many values (aliases?)")
        if depth > MAX_DEPTH:
            raise ConfigError(f"{self.problems.path}:{line}:{col}: nested too deeply")
        if not self.count % 1024 and time.monotonic() > self.deadline:
            raise ConfigError(f"{self.problems.path}:{line}:{col}: too slow to read")
        if isinstance(node, yaml.SequenceNode):
            return Src([self.build(n, depth + 1) for n in node.value], line, col)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, depth, line, col)
        return Src(self._scalar(node, line, col), line, col)

    def _scalar(self, node: yaml.Node, line: int, col: int) -> object:
        if isinstance(node.value, str) and len(node.value) > MAX_SCALAR:
            self.problems.add((line, col), "", f"value longer than {MAX_SCALAR:,} characters")
            return _Unreadable()
        try:
            return self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError, TypeError) as exc:
            self.problems.add((line, col), "", f"unreadable value: {_one_line(exc)}")
            return _Unreadable()

    def _mapping(self, node: yaml.MappingNode, depth: int, line: int, col: int) -> Src:
        out = Src({}, line, col)
        values: dict[str, Src] = out.value  # type: ignore[assignment]
        for knode, vnode in node.value:
            kl, kc = knode.start_mark.line + 1, knode.start_mark.column + 1
            if knode.tag == "tag:yaml.org,2002:merge":
                self.problems.add(
                    (kl, kc),
                    "",
                    "merge keys (<<) are not supported: write the keys out in each rule, or "
                    "put what rules share in defaults:",
                )
                out.merged = True
                continue
            key = self._scalar(knode, kl, kc) if isinstance(knode, yaml.ScalarNode) else None
            if not isinstance(key, str):
                self.problems.add((kl, kc), "", "keys must be plain names")
                continue
            if key in values:
                first = out.keys[key][0]
                self.problems.add((kl, kc), "", f"duplicate key '{key}' (first at line {first})")
                continue
            out.keys[key] = (kl, kc)
            values[key] = self.build(vnode, depth + 1)
        return out


class _Unreadable:
    """Stands for a scalar that could not be constructed (already reported)."""

    def __repr__(self) -> str:
        return "<unreadable>"


UNREADABLE = _Unreadable


def _one_line(exc: BaseException) -> str:
    text = exc.problem if isinstance(exc, yaml.MarkedYAMLError) and exc.problem else str(exc)
    return " ".join(str(text).split())[:200]
