"""The import rules of DESIGN.md sections 1 and 9, checked by walking every module's imports.

Each part is a folder; an arrow the design forbids (the pure core reaching for I/O, the
exchange knowing about rules or notifiers, delivery deciding anything) fails here with the
module, the line and the rule it breaks, before it can become a habit.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "riskwatch"
GROUND = {"model", "errors", "logs", "durations"}
IO_LIBRARIES = {
    "requests",
    "urllib3",
    "apprise",
    "sqlite3",
    "yaml",
    "socket",
    "http",
    "ssl",
    "websockets",
    "subprocess",
    "threading",
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # what it imports, dotted (``time.time`` for ``from time import time``)
    line: int


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _imports(path: Path) -> list[Import]:
    name = _module_name(path)
    out: list[Import] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [Import(name, a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.append(Import(name, node.module, node.lineno))
            out += [Import(name, f"{node.module}.{a.name}", node.lineno) for a in node.names]
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and (node.value.id, node.attr) in (("time", "time"), ("datetime", "now"))
        ):
            out.append(Import(name, f"{node.value.id}.{node.attr}", node.lineno))
    return out


ALL = [i for p in sorted(PACKAGE.rglob("*.py")) for i in _imports(p)]


def _part(module: str) -> str:
    """``riskwatch.core.engine`` -> ``core``; a ground-floor module is its own part."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _ours(target: str) -> str | None:
    return _part(target) if target.startswith("riskwatch.") else None


def _top(target: str) -> str:
    return target.split(".")[0]


# (importing part, what it must not import: our parts or library names, why)
RULES: tuple[tuple[str, frozenset[str], frozenset[str], str], ...] = (
    (
        "core",
        frozenset({"config", "exchange", "store", "delivery", "service", "cli"}),
        frozenset(IO_LIBRARIES | {"time.time", "datetime.now"}),
        "the core is pure: no I/O, no clock, no edge",
    ),
    (
        "render",
        frozenset({"config", "exchange", "store", "delivery", "service", "cli"}),
        frozenset(IO_LIBRARIES | {"time.time", "datetime.now"}),
        "rendering is pure: it formats, it sends nothing",
    ),
    (
        "exchange",
        frozenset({"core", "delivery", "store", "service", "cli", "config"}),
        frozenset(),
        "the exchange knows nothing of rules, notifiers or state",
    ),
    (
        "delivery",
        frozenset({"core", "exchange", "service", "cli"}),
        frozenset(),
        "delivery sends what it is given: it decides nothing",
    ),
    (
        "store",
        frozenset({"core", "exchange", "delivery", "service", "cli"}),
        frozenset(),
        "the store keeps state: it neither evaluates nor sends",
    ),
    (
        "config",
        frozenset({"exchange", "store", "delivery", "service", "cli"}),
        frozenset({"requests", "apprise", "socket", "sqlite3"}),
        "loading the rules file touches no network and no state",
    ),
    (
        "service",
        frozenset({"cli"}),
        frozenset(),
        "the service is wired by the command line, never the reverse",
    ),
)


def _violations(part: str, ours: frozenset[str], libs: frozenset[str]) -> list[str]:
    bad = []
    for imp in ALL:
        if _part(imp.module) != part or imp.module.count(".") < 1:
            continue
        forbidden_part = _ours(imp.target) in ours
        if forbidden_part or _top(imp.target) in libs or imp.target in libs:
            bad.append(f"{imp.module}:{imp.line} imports {imp.target}")
    return bad


@pytest.mark.parametrize(("part", "ours", "libs", "why"), RULES, ids=[r[0] for r in RULES])
def test_part_imports_only_what_its_rule_allows(
    part: str, ours: frozenset[str], libs: frozenset[str], why: str
) -> None:
    assert _violations(part, ours, libs) == [], why


def test_ground_floor_imports_nothing_of_ours() -> None:
    bad = [
        f"{i.module}:{i.line} imports {i.target}"
        for i in ALL
        if i.module.removeprefix("riskwatch.") in GROUND and i.target.startswith("riskwatch")
    ]
    assert bad == [], "model, errors, logs and durations are imported by all: they import none"


def test_the_walk_sees_every_part() -> None:
    """The checks above would pass vacuously if the walk found nothing: it must see each part
    and a known arrow (the cycle reads the engine)."""
    parts = {_part(i.module) for i in ALL}
    assert {"config", "core", "render", "exchange", "store", "delivery", "service", "cli"} <= parts
    assert any(
        i.module == "riskwatch.service.cycle" and i.target.startswith("riskwatch.core") for i in ALL
    )


def test_a_forbidden_arrow_is_caught() -> None:
    """The checker itself: a core module importing sqlite3 and the clock is reported."""
    probe = [
        Import("riskwatch.core.probe", "sqlite3", 1),
        Import("riskwatch.core.probe", "time.time", 2),
    ]
    ALL.extend(probe)
    try:
        assert len(_violations(*RULES[0][:3])) == 2
    finally:
        del ALL[-2:]


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(p.relative_to(PACKAGE.parent)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 400
    }
    assert long == {}, "split it along a seam: a module stays under 400 lines"


def test_at_most_eight_modules_at_the_top() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 8, top
