"""What would restore the buffer: the action hint on a liquidation-distance line. Pure.

A trader woken by "3.7% from liquidation" needs to know what to do about it, and how much: how
much margin to add, at which mark price the next level trips, and whether the spot account
could pay for it (DESIGN 11). Every figure here is an estimate and the line says so (``≈``);
a hint never blocks or delays a message (``None`` when it cannot be worked out).

The formulas (docs/rules.md, "Action hints", shows them with worked numbers):

* target gap ``g* = warning + hysteresis`` (``critical + hysteresis`` when the rule has no
  warning): the gap at which the alert would clear entirely;
* the liquidation price that gives ``g*`` at today's mark: long ``L* = m (1 - g*/100)``, short
  ``L* = m (1 + g*/100)``;
* added margin ``A`` moves the liquidation price of a linear position by about ``A / size``
  (long down, short up), so ``A = |L - L*| * size``. Isolated: margin added to the position.
  Cross: the same figure as account equity, marked as an estimate, since a cross position's
  liquidation price also moves with every other position of the account;
* the mark at which the next severity trips, at today's liquidation price: long
  ``m_c = L / (1 - c/100)``, short ``m_c = L / (1 + c/100)`` for the critical gap ``c``.

Limits: linear (USDT-/USDC-margined) contracts only, where size is in coins; the maintenance
margin rate's own share of the move (a factor ``1 / (1 - mmr)``, under 1 % for most tiers),
fees and funding are ignored; cross figures assume the other positions stay where they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from riskwatch.model import AlertKey, Rule, Transition

METRIC = "liq_gap_pct"  # the one metric hints speak about
_FIRING = frozenset({"firing", "escalated", "deescalated", "repeat", "worsened"})
_LINEAR = frozenset({"USDT-FUTURES", "USDC-FUTURES", "SUSDT-FUTURES", "SUSDC-FUTURES"})


@dataclass(frozen=True, slots=True)
class Figures:
    """The numbers of one hint, before words."""

    add: float  # margin (isolated) or equity (cross) to add, in the margin coin
    target_liq: float  # the liquidation price that ``add`` buys
    next_mark: float | None  # the mark at which the next severity trips (None: none next)
    cross: bool
    coin: str


def target_gap(rule: Rule) -> float | None:
    """``warning + hysteresis``: the gap at which the alert clears (None: no threshold)."""
    base = rule.warning if rule.warning is not None else rule.critical
    return None if base is None else base + rule.hysteresis


def target_liquidation(side: str, mark: float, gap: float) -> float:
    """The liquidation price ``gap`` percent of ``mark`` away on the safe side."""
    return mark * (1 - gap / 100) if side == "long" else mark * (1 + gap / 100)


def margin_to_add(side: str, liq: float, target: float, size: float) -> float:
    """Margin (or equity) that moves the liquidation price from ``liq`` to ``target``."""
    moved = (liq - target) if side == "long" else (target - liq)
    return moved * size


def mark_at_gap(side: str, liq: float, gap: float) -> float:
    """The mark price at which the gap to ``liq`` is ``gap`` percent of mark."""
    return liq / (1 - gap / 100) if side == "long" else liq / (1 + gap / 100)


def figures(t: Transition, rule: Rule) -> Figures | None:
    """The hint's numbers for a firing liquidation-distance line, or None when there is none
    to give (not that metric, not firing, no prices, a rule that fires while safe, nothing to
    add, a coin-margined contract)."""
    if t.kind not in _FIRING or t.metric != METRIC or rule.op not in ("<", "<="):
        return None
    f = t.field_map()
    side = f.get("side")
    mark, liq, size = (_positive(f.get(k)) for k in ("markPrice", "liquidationPrice", "total"))
    if f.get("product_type") not in _LINEAR or side not in ("long", "short"):
        return None
    gap = target_gap(rule)
    if mark is None or liq is None or size is None or gap is None or not -100 < gap < 100:
        return None
    target = target_liquidation(str(side), mark, gap)
    add = margin_to_add(str(side), liq, target, size)
    if add <= 0:
        return None
    crit = rule.critical
    upcoming = t.severity == "warning" and crit is not None and -100 < crit < 100
    next_mark = mark_at_gap(str(side), liq, crit) if upcoming and crit is not None else None
    coin = str(f.get("margin_coin") or "")
    return Figures(add, target, next_mark, f.get("margin_mode") != "isolated", coin)


def for_lines(
    transitions: Sequence[Transition], rules: Mapping[str, Rule]
) -> dict[AlertKey, Figures]:
    """The hint figures of each line that has one, by alert (their ``coin``s are the spot
    balances worth reading this cycle)."""
    out: dict[AlertKey, Figures] = {}
    for t in transitions:
        rule = rules.get(t.rule)
        fig = figures(t, rule) if rule is not None else None
        if fig is not None:
            out[t.key] = fig
    return out


def _positive(v: object) -> float | None:
    return float(v) if isinstance(v, float | int) and not isinstance(v, bool) and v > 0 else None
