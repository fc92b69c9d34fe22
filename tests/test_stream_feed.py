"""``feed: stream`` between the sockets and the loop (``service.feed``): which ticks count,
and which pushes may ask for a poll. No sockets: the stream is a stand-in."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from riskwatch.core.marks import Mark
from riskwatch.exchange import wsproto
from riskwatch.model import Position, Snapshot
from tests.exchange_support import CREDS


class _HeldStream:
    """A started stream as ``StreamFeed.observe`` sees it, without sockets."""

    dialect = "v2"

    def set_symbols(self, symbols: frozenset[tuple[str, str]]) -> None:
        self.symbols = symbols


def _feed_at(server_now: float):
    from riskwatch.model import ExchangeSettings
    from riskwatch.service.feed import StreamFeed

    # a fixed monotonic clock: "due" compares it with the times the tests pass
    feed = StreamFeed(
        ExchangeSettings(), CREDS, server_time=lambda: server_now, monotonic=lambda: 0.0
    )
    feed.stream = _HeldStream()  # type: ignore[assignment]
    return feed


def test_a_tick_from_the_future_does_not_outrank_later_ticks() -> None:
    feed = _feed_at(1000.0)
    key = ("USDT-FUTURES", "BTCUSDT")
    feed.tick(wsproto.Tick(*key, Decimal(50), at=1e9))  # a bad ts, years ahead
    assert feed.due(0.0) is None and feed.take_marks() == {}
    feed.tick(wsproto.Tick(*key, Decimal(90), at=999.0))
    assert feed.take_marks()[key] == Mark(Decimal(90), 999.0), "the real tick stands"


def test_a_tick_back_at_the_price_before_a_poll_is_evaluated() -> None:
    """Tick 95, poll (mark 100, newer), tick 95 again: the snapshot says 100, so it counts."""
    feed = _feed_at(1000.0)
    key = ("USDT-FUTURES", "BTCUSDT")
    feed.tick(wsproto.Tick(*key, Decimal(95), at=990.0))
    feed.take_marks()
    p = Position("USDT-FUTURES", "BTCUSDT", "long", "USDT", Decimal(1), Decimal(100), None, None)
    feed.observe(Snapshot(taken_at=995.0, positions=(p,), exchange_time=995.0))
    feed.tick(wsproto.Tick(*key, Decimal(95), at=996.0))
    assert feed.due(1e6) == "marks"
    feed.take_marks()
    feed.tick(wsproto.Tick(*key, Decimal(95), at=997.0))  # the same as just evaluated
    assert feed.due(1e6) is None


def test_pushes_ask_for_no_early_poll_while_bitget_says_wait(tmp_path: Path) -> None:
    """A private push asks for a poll at once; not while the last poll got a Retry-After (or
    a refused key): a busy account's pushes would poll once a second through the backoff."""
    from types import SimpleNamespace

    from riskwatch.errors import RateLimited
    from riskwatch.service.cycle import Outcome
    from riskwatch.service.daemon import Daemon, Hooks

    class Watcher:
        cfg = SimpleNamespace(exchange=SimpleNamespace(poll_interval=10.0, stale_after=120.0))
        polls = 0
        error: RateLimited | None = RateLimited("HTTP 429", retry_after=30.0)

        def cycle(self) -> Outcome:
            self.polls += 1
            return Outcome(0.0, 0.0, None, self.error, (), (), 0)

    now = [100.0]
    feed = _feed_at(1000.0)
    feed._monotonic = lambda: now[0]
    watcher = Watcher()
    d = Daemon(str(tmp_path / "r.yaml"), watcher, Hooks(), feed=feed)  # type: ignore[arg-type]
    feed.private(wsproto.Private("positions"))
    assert d._between_polls(now[0]) and watcher.polls == 1  # answered 429, Retry-After 30
    now[0] += 5
    feed.private(wsproto.Private("account"))
    assert d._between_polls(now[0]) and watcher.polls == 1, "polled through the Retry-After"
    assert feed.next_due(now[0]) is None  # declined, not left pending (no busy loop)
    watcher.error = None
    d._interval(d.one_cycle())  # the scheduled poll, answered: pushes may poll again
    now[0] += 5
    feed.private(wsproto.Private("account"))
    assert d._between_polls(now[0]) and watcher.polls == 3


def test_a_full_disk_is_said_once_not_at_every_tick(tmp_path: Path, caplog) -> None:
    """Re-evaluations on ticks (up to 10 a second) that cannot be committed: the state dir
    problem is said once, as a scheduled poll says it, not one ERROR line per tick."""
    import logging

    from riskwatch.errors import StoreError
    from riskwatch.service.daemon import Daemon, Hooks

    told: list[str | None] = []

    class Watcher:
        def reevaluate(self, marks: object) -> None:
            raise StoreError("write outbox: database or disk is full")

    feed = _feed_at(1000.0)
    d = Daemon(
        str(tmp_path / "r.yaml"),
        Watcher(),  # type: ignore[arg-type]
        Hooks(store_trouble=told.append),
        feed=feed,
    )
    caplog.set_level(logging.DEBUG, logger="riskwatch")
    for i in range(3):
        feed.tick(wsproto.Tick("USDT-FUTURES", "BTCUSDT", Decimal(90 + i), at=990.0 + i))
        assert d._between_polls(1e6 + i)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "disk is full" in errors[0].getMessage()
    assert told == ["write outbox: database or disk is full"]
    assert d.store_problem is not None
