"""The beat schedule run in-process, for the embedded default (no broker, no ``celery beat``).

Tasks run eagerly in the calling process when no ``REDIS_URL`` is set; this thread calls the
periodic ones on their schedule, so expiry, chain polling and payouts still happen in a plain
``tilework serve``. The same task bodies run under Celery beat in production.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from celery import Celery

log = logging.getLogger(__name__)


@dataclass
class _Entry:
    name: str
    task: str
    every_s: float
    due_at: float


class InProcessBeat:
    def __init__(self, app: Celery, *, speedup: float = 1.0) -> None:
        app.loader.import_default_modules()
        self.app = app
        now = time.monotonic()
        self.entries = [
            _Entry(name, spec["task"], float(spec["schedule"]) / speedup, now)
            for name, spec in app.conf.beat_schedule.items()
        ]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tilework-beat", daemon=True)

    def run_all_now(self) -> None:
        """Run every periodic task once, in schedule order (used between demo phases and in tests)."""
        for entry in self.entries:
            self._run(entry)

    def _run(self, entry: _Entry) -> None:
        try:
            self.app.tasks[entry.task].apply(throw=True)
        except Exception:
            log.exception("periodic task %s failed; it runs again at its next slot", entry.task)
        entry.due_at = time.monotonic() + entry.every_s

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            for entry in self.entries:
                if entry.due_at <= now:
                    self._run(entry)
            next_due = min((e.due_at for e in self.entries), default=now + 1)
            self._stop.wait(max(0.05, min(1.0, next_due - time.monotonic())))

    def start(self) -> InProcessBeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
