"""HTTP to Bitget: the one place that touches ``requests``.

Everything the network can do wrong is translated here, once, into riskwatch errors: connection
failures and hangs (which also switch to the fallback host, when one is configured), HTTP 429
and 5xx, empty bodies, malformed JSON, Bitget's error codes (``codes.classify``). Above this
module nobody sees a ``requests`` exception.

Policy, in order of application for one ``get``:
- a token bucket per endpoint family (``RateLimiter``) so we do not earn 429s;
- the clock offset to Bitget's server time, measured before the first signed request and again
  whenever Bitget rejects a timestamp (then the request is retried once at once), so a local
  clock minutes off does not matter; a second rejection right after the resync is an
  ``ExchangeError`` (not retried: resyncing again would only loop until the deadline);
- tenacity retries on ``TransientError`` (which includes ``RateLimited``) with exponential
  backoff and jitter, honouring Retry-After, and a *deadline*: a fetch never outlives the poll
  interval by much. Sleeps go through the injected ``sleep`` (which waits on the stop event), so
  SIGTERM ends a backoff at once;
- ``fallback_url`` is off by default (Bitget documents one REST host). When set, a primary that
  does not answer is replaced by the fallback only once the fallback's public time endpoint
  answers, and an outage is logged once (WARNING when switching, INFO when the primary is
  back), however many requests it spans.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception_type

from riskwatch.errors import ExchangeError, RiskwatchError, TransientError, Unreachable
from riskwatch.exchange import bounded, codes, neterrors, replies, signing
from riskwatch.exchange.credentials import Credentials
from riskwatch.exchange.outage import Outage
from riskwatch.exchange.ratelimit import RateLimiter
from riskwatch.model import ExchangeSettings

log = logging.getLogger("riskwatch.exchange")

Clock = Callable[[], float]
Sleep = Callable[[float], object]
FALLBACK_HOLD = 300.0  # seconds on the fallback host before trying the primary again
MIN_BUDGET = 5.0
MAX_BACKOFF = 2.0


class HostDown(TransientError):
    """The host did not answer at all (connection refused/reset, timeout): try the other one."""


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Retry-After in seconds, from either form HTTP allows (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


class Transport:
    """Signed GETs against Bitget with retries, rate limits, clock sync and host fallback."""

    def __init__(
        self,
        settings: ExchangeSettings,
        creds: Credentials,
        *,
        time_path: str = "/api/v2/public/time",
        clock: Clock = time.monotonic,
        wall: Clock = time.time,
        sleep: Sleep | None = None,
        stop: threading.Event | None = None,
        limiter: RateLimiter | None = None,
        rng: random.Random | None = None,
        max_bytes: int = bounded.MAX_BYTES,
        announce_outages: bool = True,
    ) -> None:
        self.settings = settings
        self._creds = creds
        self.time_path = time_path
        self._clock = clock
        self._wall = wall
        self._stop = stop or threading.Event()
        self._sleep: Sleep = sleep or self._stop.wait
        self.limiter = limiter or RateLimiter(clock=clock, sleep=self._sleep)
        self._rng = rng or random.Random()
        self._hosts = [settings.base_url.rstrip("/")]
        if settings.fallback_url:
            self._hosts.append(settings.fallback_url.rstrip("/"))
        self._active = 0
        self._switched_at = 0.0
        self._outage = False  # the switch to the fallback was logged; the return is not yet
        self.outage = Outage(clock, window=3 * self.budget(), announce=announce_outages)
        self.offset_ms: float = 0.0
        self.request_time: float | None = None  # the last envelope's requestTime, seconds
        self._synced = False
        self._lock = threading.Lock()
        self.max_bytes = max_bytes
        self._session = bounded.session()

    # ------------------------------------------------------------------ public

    @property
    def host(self) -> str:
        with self._lock:
            if self._active and self._clock() - self._switched_at >= FALLBACK_HOLD:
                log.debug("trying the primary host %s again", self._hosts[0])
                self._active = 0
            return self._hosts[self._active]

    def budget(self) -> float:
        """Seconds one fetch may spend retrying: about one poll interval, at least a few."""
        return max(self.settings.poll_interval, MIN_BUDGET)

    def deadline(self, seconds: float | None = None) -> float:
        """When a read begun now must end: ``seconds`` from now (default the budget)."""
        return self._clock() + (self.budget() if seconds is None else seconds)

    def get(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        bucket: str,
        signed: bool = True,
        deadline: float | None = None,
        parse: Callable[[Any], Any] | None = None,
    ) -> Any:
        """The envelope's ``data`` of GET ``path``; raises AuthError / ExchangeError at once,
        ``Unreachable`` naming ``path`` when retries until ``deadline`` did not help (with the
        server's Retry-After when the last answer was a rate limit that sent one).
        ``parse`` (pure) turns ``data`` into the result inside the retried attempt, so a
        malformed envelope (a ``TransientError`` from it) is retried like any other fault."""
        end = deadline if deadline is not None else self.deadline()
        retrying = Retrying(
            retry=retry_if_exception_type(TransientError),
            stop=lambda rs: self._should_stop(rs, end),
            wait=self._wait,
            sleep=_returning_none(self._sleep),
            reraise=True,
            before_sleep=self._log_retry,
        )
        request = (path, tuple(sorted((params or {}).items())))
        try:
            data = retrying(self._attempt, path, params, bucket, signed, end, parse)
        except TransientError as exc:
            tries = retrying.statistics.get("attempt_number", 1)
            why = "stopping" if self._stop.is_set() else f"{tries} attempt{'s' * (tries > 1)}"
            error = Unreachable(
                f"{exc} ({why})",
                code=exc.code,
                endpoint=path,
                retry_after=exc.retry_after,  # a 429's hint, for the caller
            )
            if not self._stop.is_set():
                self.outage.failed(request, str(error))
            raise error from exc
        self.outage.answered(request)
        return data

    def sync_time(self, deadline: float | None = None) -> None:
        """Measure the offset between Bitget's clock and ours (public time endpoint)."""
        end = deadline if deadline is not None else self.deadline()
        before = self._wall()
        data = self._request(self.time_path, None, "public", False, end)
        after = self._wall()
        server = data.get("serverTime") if isinstance(data, dict) else data
        server_ms = replies.server_ms(server, (before + after) * 500.0, self.time_path)
        self.offset_ms = server_ms - (before + after) * 500.0
        self._synced = True
        log.debug("clock offset to Bitget: %+.0f ms", self.offset_ms)

    def close(self) -> None:
        self._session.close()

    # ------------------------------------------------------------------ retry policy

    def _should_stop(self, rs: RetryCallState, end: float) -> bool:
        return self._stop.is_set() or self._clock() + rs.upcoming_sleep > end

    def _wait(self, rs: RetryCallState) -> float:
        exc = rs.outcome.exception() if rs.outcome else None
        hint = exc.retry_after if isinstance(exc, RiskwatchError) else None
        if hint is not None:
            return float(hint) + self._rng.uniform(0, 0.1)
        if isinstance(exc, HostDown) and rs.attempt_number == 1 and len(self._hosts) > 1:
            return 0.0  # the other host is tried at once
        # Capped low: a burst of 429s passes in seconds, and the deadline bounds the total.
        backoff = min(MAX_BACKOFF, 0.25 * 2 ** (rs.attempt_number - 1))
        return backoff / 2 + self._rng.uniform(0, backoff / 2)

    @staticmethod
    def _log_retry(rs: RetryCallState) -> None:
        exc = rs.outcome.exception() if rs.outcome else None
        log.debug("retrying in %.1fs: %s", rs.upcoming_sleep, exc)

    # ------------------------------------------------------------------ one attempt

    def _attempt(
        self,
        path: str,
        params: Mapping[str, str] | None,
        bucket: str,
        signed: bool,
        end: float,
        parse: Callable[[Any], Any] | None,
    ) -> Any:
        if signed and not self._synced:
            self.sync_time(end)
        try:
            data = self._request(path, params, bucket, signed, end)
        except codes.TimestampRejected:
            log.info("%s: Bitget rejected our timestamp; resyncing the clock", path)
            self.sync_time(end)
            try:
                data = self._request(path, params, bucket, signed, end)
            except codes.TimestampRejected as exc:
                raise ExchangeError(
                    f"Bitget still rejects the request timestamp after syncing to its clock: {exc}",
                    code=exc.code,
                    endpoint=path,
                ) from exc
        if parse is None:
            return data
        try:
            return parse(data)
        except (TransientError, ExchangeError):
            raise
        except Exception as exc:  # any reply at all must not end the daemon: name it, go on
            log.error("%s: unreadable reply (%s); this poll of it is skipped", path, exc)
            raise ExchangeError(
                f"{path}: unreadable reply ({type(exc).__name__})", endpoint=path
            ) from exc

    def _request(
        self, path: str, params: Mapping[str, str] | None, bucket: str, signed: bool, end: float
    ) -> Any:
        self.limiter.acquire(bucket)
        query = signing.encode_query(params)
        headers = self._headers(path, signing.raw_query(params)) if signed else {"locale": "en-US"}
        host = self.host
        url = f"{host}{path}" + (f"?{query}" if query else "")
        total = max(1.0, min(self.settings.timeout, end - self._clock()))
        try:
            reply = bounded.get(
                self._session,
                url,
                headers=headers,
                total=total,
                connect=5.0,
                max_bytes=self.max_bytes,
            )
        except bounded.DeadlinePassed as exc:
            self._switch_host(host)
            raise HostDown(f"{path}: {neterrors.deadline(total, host)}", endpoint=path) from exc
        except (bounded.TooLarge, bounded.BadEncoding) as exc:
            raise TransientError(f"{path}: {exc}", endpoint=path) from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            self._switch_host(host)
            why = neterrors.cause(exc, host, min(5.0, total), total)
            raise HostDown(f"{path}: {why}", endpoint=path) from exc
        except requests.RequestException as exc:
            why = neterrors.cause(exc, host, min(5.0, total), total)
            raise TransientError(f"{path}: {why}", endpoint=path) from exc
        body = reply.body
        log.debug("GET %s -> HTTP %s (%d bytes)", path, reply.status, len(body))
        self._answered(host)
        if 300 <= reply.status < 400:
            raise replies.redirect(path, reply.status, reply.headers.get("Location"))
        return self._interpret(path, reply.status, reply.headers, body)

    def _headers(self, path: str, query: str) -> dict[str, str]:
        ts = str(int(self._wall() * 1000 + self.offset_ms))
        sig = signing.sign(self._creds.api_secret, ts, "GET", path, query)
        return signing.headers(
            api_key=self._creds.api_key,
            passphrase=self._creds.passphrase,
            signature=sig,
            timestamp=ts,
            demo=self.settings.demo,
        )

    def _switch_host(self, failed: str) -> None:
        """The active host did not answer: move to the other one, the fallback only once its
        public time endpoint answers (a dead fallback is no better than a dead primary)."""
        with self._lock:
            if len(self._hosts) < 2 or self._hosts[self._active] != failed:
                return
            to_fallback = self._active == 0
        if to_fallback and not self._probe(self._hosts[1]):
            log.debug("the fallback host %s does not answer either; staying", self._hosts[1])
            return
        with self._lock:
            if self._hosts[self._active] != failed:
                return  # another thread switched meanwhile
            self._active = 1 - self._active
            self._switched_at = self._clock()
            if to_fallback and not self._outage:
                self._outage = True
                log.warning(
                    "%s is unreachable; switching to the fallback %s", failed, self._hosts[1]
                )
            else:
                log.debug("%s is unreachable; switching to %s", failed, self._hosts[self._active])

    def _probe(self, host: str) -> bool:
        """Whether ``host`` answers Bitget's public time endpoint with an envelope."""
        try:
            resp = self._session.get(
                f"{host}{self.time_path}",
                headers={"locale": "en-US"},
                timeout=min(5.0, self.settings.timeout),
            )
            return resp.status_code < 500 and b'"code"' in resp.content
        except requests.RequestException:
            return False

    def _answered(self, host: str) -> None:
        """``host`` answered: when it is the primary at the end of an outage, say so once."""
        if self._outage and host == self._hosts[0]:
            with self._lock:
                if not self._outage:
                    return
                self._outage = False
            log.info("the primary host %s answers again; back from the fallback", host)

    def _interpret(self, path: str, status: int, headers: Mapping[str, str], body: bytes) -> Any:
        retry_after = parse_retry_after(headers.get("Retry-After"), self._wall())
        if status == 429:
            raise codes.classify(
                "429",
                "Too Many Requests",
                path,
                status=status,
                retry_after=retry_after,
                demo=self.settings.demo,
            )
        if not body.strip():
            raise TransientError(f"{path}: HTTP {status} with an empty body", endpoint=path)
        if replies.too_deep(body):
            raise TransientError(
                f"{path}: JSON nested deeper than {replies.MAX_JSON_DEPTH} levels, HTTP {status}",
                endpoint=path,
            )
        try:
            envelope = json.loads(body)
        except (ValueError, RecursionError):
            what = "not JSON" if status < 400 else "not Bitget's JSON"
            raise TransientError(
                f"{path}: HTTP {status}, {what}: {neterrors.excerpt(body)}", endpoint=path
            ) from None
        if not isinstance(envelope, dict) or "code" not in envelope:
            raise TransientError(
                f"{path}: HTTP {status}, not a Bitget envelope: {neterrors.excerpt(body)}",
                endpoint=path,
            )
        code = envelope.get("code")
        self.request_time = _seconds(envelope.get("requestTime"))
        if codes.is_success(code) and status < 400:
            return envelope.get("data")
        raise codes.classify(
            str(code),
            str(envelope.get("msg") or ""),
            path,
            status=status,
            retry_after=retry_after,
            demo=self.settings.demo,
        )


def _returning_none(sleep: Sleep) -> Callable[[float], None]:
    """tenacity's ``sleep`` returns nothing; ours may be ``Event.wait`` (a bool)."""

    def run(seconds: float) -> None:
        sleep(seconds)

    return run


def _seconds(ms: object) -> float | None:
    """Bitget's ``requestTime`` (ms, a number in the docs, a string in recorded replies)."""
    try:
        return float(str(ms)) / 1000.0 if ms is not None else None
    except (TypeError, ValueError):
        return None
