"""Fixed-window counters for rate limits: in Redis when one is configured (shared by every API process),
in memory otherwise (one process: the embedded default).

``hit`` counts an event and says how long to wait when the count passed the limit; ``peek`` only looks.
A Redis that does not answer falls back to the in-memory counters (logged): a broken cache must not lock
everyone out.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

log = logging.getLogger(__name__)


class RateLimiter(Protocol):
    def hit(self, key: str, limit: int, window_s: int) -> int | None: ...

    def peek(self, key: str, limit: int, window_s: int) -> int | None: ...

    def reset(self, key: str) -> None: ...


class MemoryRateLimiter:
    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}

    def _current(self, key: str, window_s: int, now: float) -> tuple[float, int]:
        start, count = self._windows.get(key, (now, 0))
        if now - start >= window_s:
            start, count = now, 0
        return start, count

    def hit(self, key: str, limit: int, window_s: int) -> int | None:
        now = self._clock()
        with self._lock:
            start, count = self._current(key, window_s, now)
            count += 1
            self._windows[key] = (start, count)
            if len(self._windows) > 100_000:  # forget finished windows now and then
                self._windows = {k: v for k, v in self._windows.items() if now - v[0] < window_s}
        return _retry(count, limit, start + window_s - now)

    def peek(self, key: str, limit: int, window_s: int) -> int | None:
        now = self._clock()
        with self._lock:
            start, count = self._current(key, window_s, now)
        return _retry(count + 1, limit, start + window_s - now)

    def reset(self, key: str) -> None:
        with self._lock:
            self._windows.pop(key, None)


class RedisRateLimiter:
    def __init__(self, url: str, prefix: str = "tw:rl:") -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._prefix = prefix
        self._fallback = MemoryRateLimiter()

    def hit(self, key: str, limit: int, window_s: int) -> int | None:
        name = self._prefix + key
        try:
            pipe = self._redis.pipeline(transaction=True)
            pipe.incr(name)
            pipe.expire(name, window_s, nx=True)
            pipe.ttl(name)
            count, _, ttl = pipe.execute()
        except Exception as exc:  # redis.RedisError, OSError
            log.warning("rate limit: Redis unavailable (%s); counting in this process", exc)
            return self._fallback.hit(key, limit, window_s)
        return _retry(int(count), limit, ttl if ttl and ttl > 0 else window_s)

    def peek(self, key: str, limit: int, window_s: int) -> int | None:
        name = self._prefix + key
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.get(name)
            pipe.ttl(name)
            count, ttl = pipe.execute()
        except Exception as exc:
            log.warning("rate limit: Redis unavailable (%s); counting in this process", exc)
            return self._fallback.peek(key, limit, window_s)
        return _retry(int(count or 0) + 1, limit, ttl if ttl and ttl > 0 else window_s)

    def reset(self, key: str) -> None:
        try:
            self._redis.delete(self._prefix + key)
        except Exception as exc:
            log.warning("rate limit: Redis unavailable (%s)", exc)
        self._fallback.reset(key)


def _retry(count: int, limit: int, remaining_s: float) -> int | None:
    """None while ``count`` is within ``limit``; else the whole seconds until the window ends (>= 1)."""
    if count <= limit:
        return None
    return max(1, int(remaining_s + 0.999))


def make_rate_limiter(redis_url: str | None) -> RateLimiter:
    return RedisRateLimiter(redis_url) if redis_url else MemoryRateLimiter()
