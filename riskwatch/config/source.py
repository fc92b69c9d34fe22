"""The rules file as a tree of located values, so every problem can name its line and column.

``yaml.safe_load`` forgets where a value came from and silently keeps the last of two duplicate
keys; this module composes the document into YAML nodes (``SafeLoader``, no Python objects) and
turns them into ``Src`` values that remember their position. It is the one place that touches
PyYAML: its errors become located ``ConfigError`` problems here. Hostile inputs are bounded:
a file size cap, a node count cap (alias bombs), a depth cap (deep nesting).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml
import yaml.reader
from yaml.constructor import SafeConstructor

from riskwatch.errors import ConfigError

MAX_BYTES = 1 << 20
MAX_NODES = 100_000
MAX_DEPTH = 50


@dataclass(slots=True)
class Src:
    """A value from the file and where it starts (1-based line and column).

    ``value`` is a scalar (str, int, float, bool, None, date), a ``list[Src]`` or a
    ``dict[str, Src]``; for mappings, ``keys`` holds each key's own position."""

    value: object
    line: int
    col: int
    keys: dict[str, tuple[int, int]] = field(default_factory=dict)

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
        node = yaml.compose(text, Loader=yaml.SafeLoader)
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

    def build(self, node: yaml.Node, depth: int) -> Src:
        self.count += 1
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        if self.count > MAX_NODES:
            raise ConfigError(f"{self.problems.path}:{line}:{col}: too many values (aliases?)")
        if depth > MAX_DEPTH:
            raise ConfigError(f"{self.problems.path}:{line}:{col}: nested too deeply")
        if isinstance(node, yaml.SequenceNode):
            return Src([self.build(n, depth + 1) for n in node.value], line, col)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, depth, line, col)
        return Src(self._scalar(node, line, col), line, col)

    def _scalar(self, node: yaml.Node, line: int, col: int) -> object:
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
            key = self._scalar(knode, kl, kc) if isinstance(knode, yaml.ScalarNode) else None
            if knode.tag == "tag:yaml.org,2002:merge":
                self.problems.add((kl, kc), "", "merge keys (<<) are not supported")
                continue
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
