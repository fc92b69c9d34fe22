"""Built-in alerts (DESIGN section 8): riskwatch-stale, riskwatch-auth, riskwatch-config."""

from __future__ import annotations

from riskwatch.model import Defaults, Health
from riskwatch.render import lines as render
from tests.engine_support import Run, kinds

STALE = ("riskwatch-stale", "", "", "", "default")
AUTH = ("riskwatch-auth", "", "", "", "default")
CONFIG = ("riskwatch-config", "", "", "", "")
DEFAULTS = Defaults(channels=("phone", "team"), repeat=600.0)


def run() -> Run:
    return Run(defaults=DEFAULTS)


def test_stale_fires_after_stale_after_and_resolves_when_polls_succeed() -> None:
    r = run()
    assert r.cycle(100, None, health=Health(last_success=0.0), stale_after=120) == []
    out = r.cycle(120, None, health=Health(last_success=0.0), stale_after=120)
    assert kinds(out) == ["firing:critical"]
    (t,) = out
    assert t.key == STALE and t.channels == ("phone", "team")
    assert "no successful poll for 2m" in render.line(t)
    assert r.cycle(130, None, health=Health(last_success=0.0), stale_after=120) == []
    assert kinds(r.cycle(720, None, health=Health(last_success=0.0))) == ["repeat:critical"]
    out = r.cycle(730, None, health=Health(last_success=725.0))
    assert kinds(out) == ["resolved:critical"]
    assert "RESOLVED riskwatch-stale [was critical]: polls succeed again [" in render.line(out[0])
    assert r.state == {}


def test_stale_judged_from_start_when_never_polled() -> None:
    r = run()
    assert r.cycle(60, None, health=Health(started_at=0.0)) == []
    (t,) = r.cycle(121, None, health=Health(started_at=0.0))
    assert t.key == STALE
    assert "no poll succeeded" in render.line(t)


def test_no_health_leaves_builtins_alone() -> None:
    r = run()
    r.cycle(200, None, health=Health(last_success=0.0))
    assert STALE in r.state
    assert r.cycle(10**6, None) == []
    assert STALE in r.state


def test_auth_fires_at_once_repeats_and_resolves() -> None:
    r = run()
    why = "40009 signature error: the API secret is wrong; fix BITGET_API_SECRET"
    (t,) = r.cycle(0, None, health=Health(last_success=0.0, auth_error=why))
    assert (t.key, t.kind, t.severity) == (AUTH, "firing", "critical")
    line = render.line(t)
    assert line.startswith("CRITICAL riskwatch-auth: ") and why in line
    assert r.cycle(10, None, health=Health(last_success=10.0, auth_error=why)) == []
    assert kinds(r.cycle(600, None, health=Health(last_success=600.0, auth_error=why))) == [
        "repeat:critical"
    ]
    other = "40085 unified account mode: set exchange.api: v3"
    out = r.cycle(610, None, health=Health(last_success=610.0, auth_error=other))
    assert kinds(out) == ["firing:critical"] and other in render.line(out[0])
    (t,) = r.cycle(620, None, health=Health(last_success=620.0))
    assert t.kind == "resolved"
    assert render.line(t).startswith("RESOLVED riskwatch-auth [was critical]: the exchange accepts")


def test_config_error_is_a_warning_with_its_location() -> None:
    r = run()
    err = "rules.yaml:12:9: rules[2].op: must be one of <, <=, >, >="
    (t,) = r.cycle(0, None, health=Health(last_success=0.0, config_error=err))
    assert (t.key, t.severity) == (CONFIG, "warning")
    assert err in render.line(t)
    (t,) = r.cycle(10, None, health=Health(last_success=10.0))
    assert t.kind == "resolved" and "valid again" in render.line(t)
