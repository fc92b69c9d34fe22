"""Answering back (DESIGN 12): silences, acks, quiet hours and escalation over one cycle's
transitions. Pure: (transitions, state, what the trader said, now) -> what to send.

Why a layer after the engine and not inside it: a silenced or acked alert keeps its whole
lifecycle (it fires, escalates, repeats and resolves on the engine's clock, and its history
says so); only the lines change. So the engine stays the one place that decides what happened,
and this module the one place that decides who hears of it.

Per alert it remembers (``Memory``, persisted by the store in the cycle's transaction) whether
a silence covered it, whether warning lines were held in quiet hours, whether anything about it
was told, and since when it is critical (for ``escalate``). Built-in alerts are never silenced
nor held; lines of kinds this module does not know (events, DESIGN 10) always pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from riskwatch import durations
from riskwatch.answers import Ack, Silence
from riskwatch.answers import AnswerMemory as Memory
from riskwatch.core.quiet import is_quiet
from riskwatch.core.selfalerts import NAMES as BUILTINS
from riskwatch.core.silences import silencing
from riskwatch.model import (
    AlertKey,
    AlertState,
    Config,
    Escalate,
    QuietWindow,
    Severity,
    Transition,
)

_LIFECYCLE_KINDS = frozenset({"firing", "escalated", "deescalated", "repeat", "worsened"})
SILENCE_ENDED = "silence ended, still firing"
HELD = "held during quiet hours, still firing"


@dataclass(frozen=True, slots=True)
class Policy:
    """What one rule says about answering back, resolved against the top level."""

    quiet: tuple[QuietWindow, ...] = ()
    escalate: Escalate | None = None
    warning: float | None = None
    critical: float | None = None
    message: str | None = None

    def threshold(self, sev: Severity) -> float | None:
        return self.critical if sev == "critical" else self.warning


@dataclass(frozen=True, slots=True)
class Answer:
    send: tuple[Transition, ...]  # the lines to send this cycle
    muted: tuple[tuple[Transition, str], ...]  # lines not sent, and why ("silenced by ID")
    memory: dict[AlertKey, Memory]
    state: dict[AlertKey, AlertState]  # next state, repeat clocks moved by reminders
    acks_cleared: frozenset[AlertKey]


def policies(cfg: Config) -> dict[str, Policy]:
    """Rule name -> its policy; built-in alerts get the top level's escalation only."""
    out = {
        r.name: Policy(
            quiet=cfg.quiet_hours if r.quiet_hours is None else r.quiet_hours,
            escalate=r.escalate,
            warning=r.warning,
            critical=r.critical,
            message=r.message,
        )
        for r in cfg.rules
    }
    for name in BUILTINS:
        out[name] = Policy(escalate=cfg.defaults.escalate)
    return out


def idle(memory: Mapping[AlertKey, Memory], silences: Sequence[Silence], acks: Mapping) -> bool:
    """Nothing to remember and nothing said: the engine's lines go out as they are."""
    return not memory and not silences and not acks


def answer(
    transitions: Sequence[Transition],
    state: Mapping[AlertKey, AlertState],
    memory: Mapping[AlertKey, Memory],
    *,
    silences: Sequence[Silence],
    acks: Mapping[AlertKey, Ack],
    policies: Mapping[str, Policy],
    timezone: str,
    now: float,
) -> Answer:
    """Filter this cycle's lines and add the reminders due (silence ended, end of quiet
    hours, escalation). ``state`` is the engine's next state."""
    run = _Run(state, memory, silences, acks, policies, timezone, now)
    for t in transitions:
        run.line(t)
    run.reminders()
    return run.result()


class _Run:
    def __init__(
        self,
        state: Mapping[AlertKey, AlertState],
        memory: Mapping[AlertKey, Memory],
        silences: Sequence[Silence],
        acks: Mapping[AlertKey, Ack],
        policies: Mapping[str, Policy],
        timezone: str,
        now: float,
    ) -> None:
        self.state = dict(state)
        self.mem = dict(memory)
        self.silences = [s for s in silences if s.active(now)]
        self.acks = acks
        self.policies = policies
        self.timezone = timezone
        self.now = now
        self.send: list[Transition] = []
        self.muted: list[tuple[Transition, str]] = []
        self.cleared: set[AlertKey] = set()
        self.seen: set[AlertKey] = set()
        self._quiet: dict[str, bool] = {}
        self.escalating = any(p.escalate for p in policies.values())

    # ------------------------------------------------------------------ helpers
    def policy(self, rule: str) -> Policy:
        return self.policies.get(rule) or Policy()

    def quiet(self, rule: str) -> bool:
        q = self._quiet.get(rule)
        if q is None:
            q = self._quiet[rule] = is_quiet(self.policy(rule).quiet, self.timezone, self.now)
        return q

    def acked(self, key: AlertKey) -> bool:
        return key in self.acks and key not in self.cleared

    def silence(self, key: AlertKey) -> Silence | None:
        return silencing(self.silences, key, self.now) if self.silences else None

    def remember(self, key: AlertKey, **changes: object) -> Memory:
        m = replace(self.mem.get(key) or Memory(key), **changes)  # type: ignore[arg-type]
        self.mem[key] = m
        return m

    # ------------------------------------------------------------------ the engine's lines
    def line(self, t: Transition) -> None:
        key = t.key
        if t.kind not in _LIFECYCLE_KINDS and t.kind != "resolved":
            self.send.append(t)  # events and anything new: never muted
            return
        self.seen.add(key)
        if t.kind == "resolved":
            return self.resolved(t)
        if (held := self.mem.get(key)) is not None and held.held_resolve is not None:
            self.remember(key, held_resolve=None, told=True)  # back before anyone heard it ended
        self.bookkeep(t)
        if not t.builtin:
            if (s := self.silence(key)) is not None:
                self.remember(key, silenced=True)
                return self.muted.append((t, f"silenced by {s.id}"))
            if (m := self.mem.get(key)) is not None and m.silenced and t.kind == "repeat":
                t = replace(t, kind="reminder", reason=SILENCE_ENDED)  # say why it is back
            self.remember(key, silenced=False)
            if t.kind in ("repeat", "reminder") and self.acked(key):
                return self.muted.append((t, "acked"))
            if t.severity == "warning" and self.quiet(t.rule):
                self.remember(key, held=True)
                return self.muted.append((t, "quiet hours"))
        elif t.kind == "repeat" and self.acked(key):
            return self.muted.append((t, "acked"))
        if (m := self.mem.get(key)) is not None and m.held and t.kind == "repeat":
            t = replace(t, kind="reminder", reason=HELD)  # the summary of the quiet hours
        self.remember(key, told=True, held=False)
        self.send.append(t)

    def bookkeep(self, t: Transition) -> None:
        """The critical clock of ``escalate``, and an ack ended by an escalation."""
        m = self.mem.get(t.key) or Memory(t.key)
        if t.severity == "critical" and (m.critical_since is None or t.kind == "escalated"):
            self.remember(t.key, critical_since=t.at, escalated=False)
        elif t.severity == "warning" and m.critical_since is not None:
            self.remember(t.key, critical_since=None, escalated=False)
        if t.kind == "escalated" and t.key in self.acks:
            self.cleared.add(t.key)  # the ack was for the warning: a critical needs its own

    def resolved(self, t: Transition) -> None:
        key = t.key
        m = self.mem.pop(key, None) or Memory(key)
        if key in self.acks:
            self.cleared.add(key)
        if t.builtin:
            self.send.append(t)
        elif (s := self.silence(key)) is not None:
            self.muted.append((t, f"silenced by {s.id}"))
        elif t.severity == "warning" and self.quiet(t.rule):
            if m.told:  # it was announced: its end is news, kept for the summary
                self.mem[key] = Memory(key, held=True, held_resolve=t)
            self.muted.append((t, "quiet hours"))
        elif m.held and not m.told:
            self.muted.append((t, "fired and cleared during quiet hours"))
        else:
            self.send.append(t)

    # ------------------------------------------------------------------ reminders
    def reminders(self) -> None:
        for key, m in list(self.mem.items()):
            st = self.state.get(key)
            if m.held_resolve is not None:
                if not self.quiet(key[0]):
                    self.send.append(m.held_resolve)  # stamped when it resolved, not now
                    del self.mem[key]
                continue
            if st is None or st.status != "firing":
                self.mem.pop(key, None)  # gone without a line (rule removed, send_resolved off)
                continue
            self.unsilenced(key, m, st)
            self.unheld(key, st)
            self.escalation(key, st)
            if (left := self.mem.get(key)) is not None and left.idle():
                del self.mem[key]
        if not self.silences and not self.escalating:
            return
        for key, st in self.state.items():  # silences added since the alert last said anything
            if st.status != "firing" or key in self.seen or key in self.mem:
                continue
            silenced = bool(self.silences) and self.silence(key) is not None
            critical = st.severity == "critical" and self.policy(key[0]).escalate is not None
            if silenced or critical:  # from before the silence, or before ``escalate`` was set
                since = st.since if critical else None
                self.remember(key, silenced=silenced, told=True, critical_since=since)
                self.escalation(key, st)

    def unsilenced(self, key: AlertKey, m: Memory, st: AlertState) -> None:
        """A silence ended (expired or expired early) over a firing alert: one line at once,
        or, for a warning in quiet hours, at their end. A silence that covers an alert which
        said nothing this cycle is noted here, so that its end is told too."""
        if self.silence(key) is not None:
            if not m.silenced:
                self.remember(key, silenced=True)
            return
        if not m.silenced:
            return
        self.remember(key, silenced=False)
        if key in self.seen or self.acked(key):
            return
        if st.severity == "warning" and self.quiet(key[0]):
            self.remember(key, held=True)  # told with the quiet hours' summary
            return
        self.remind(st, SILENCE_ENDED, st.channels, restart=True)

    def unheld(self, key: AlertKey, st: AlertState) -> None:
        m = self.mem[key]
        if not m.held or self.quiet(key[0]) or key in self.seen:
            return
        self.remember(key, held=False)
        if st.severity == "warning" and not self.acked(key) and self.silence(key) is None:
            self.remind(st, HELD, st.channels, restart=True)

    def escalation(self, key: AlertKey, st: AlertState) -> None:
        m = self.mem.get(key)
        esc = self.policy(key[0]).escalate
        if m is None or esc is None or m.escalated or m.critical_since is None:
            return
        if st.severity != "critical" or self.now - m.critical_since < esc.after:
            return
        if self.acked(key) or self.silence(key) is not None:
            return
        self.remember(key, escalated=True)
        self.remind(
            st, f"not acked after {durations.to_text(esc.after)}", esc.channels, restart=False
        )

    def remind(self, st: AlertState, why: str, channels: tuple[str, ...], *, restart: bool) -> None:
        pol = self.policy(st.key[0])
        t = Transition(
            key=st.key,
            kind="reminder",
            severity=st.severity,
            previous_severity=st.severity,
            rule=st.key[0],
            metric=st.metric,
            value=st.value,
            threshold=pol.threshold(st.severity),
            op=(st.op or None),  # type: ignore[arg-type]
            at=self.now,
            channels=channels,
            reason=why,
            message=pol.message,
            fields=st.context,
            builtin=st.key[0] in BUILTINS,
        )
        self.send.append(t)
        self.remember(st.key, told=True)
        if restart:  # a line went to its channels: the repeat clock starts over
            self.state[st.key] = replace(st, last_sent_at=self.now, last_sent_value=st.value)

    def result(self) -> Answer:
        cleared = {k for k in self.acks if k in self.cleared}
        cleared |= {
            k for k in self.acks if (s := self.state.get(k)) is None or s.status != "firing"
        }
        return Answer(
            send=tuple(self.send),
            muted=tuple(self.muted),
            memory=self.mem,
            state=self.state,
            acks_cleared=frozenset(cleared),
        )
