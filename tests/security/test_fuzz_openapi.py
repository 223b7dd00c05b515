"""Every operation of the OpenAPI document, fuzzed with Schemathesis as each role on seeded data: no
answer >= 500, every answer documented (status, content type, body), and the app still answers.

A bounded budget for the normal test run; ``benchmarks/fuzz.py`` runs a longer campaign against a
real server. ``TILEWORK_FUZZ_EXAMPLES`` raises the budget here too."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import schemathesis
from fastapi.testclient import TestClient

from marketplace.app import create_app
from marketplace.config import Settings
from marketplace.errors import UNBOUNDED_INPUT_LOG
from marketplace.payments.rails import Rails

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks._fuzz_campaign import fuzz, seed  # noqa: E402

EXAMPLES = int(os.environ.get("TILEWORK_FUZZ_EXAMPLES", "8"))


class _Unbounded(logging.Handler):
    """Counts requests whose input reached the database unchecked (the DataError backstop)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == UNBOUNDED_INPUT_LOG:
            self.messages.append(record.getMessage())


def test_fuzz_every_operation_as_every_role(settings: Settings, data_root: Path, rails: Rails) -> None:
    """``rails``: card payments in memory, Connect through the stand-in, the in-process EVM."""
    app = create_app(settings)
    with TestClient(app) as client:
        seeded = seed(client, settings, data_root, rails)
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        unbounded = _Unbounded()
        logging.getLogger("marketplace.errors").addHandler(unbounded)
        try:
            outcome = fuzz(schema, seeded, examples=EXAMPLES)
        finally:
            logging.getLogger("marketplace.errors").removeHandler(unbounded)
        print(outcome.line(), dict(sorted(outcome.statuses.items())))
        report = "\n".join(
            f"{count}x {key}\n  {outcome.examples[key]}" for key, count in outcome.failures.most_common()
        )
        assert outcome.cases > 500, outcome.line()
        assert (outcome.server_errors, outcome.schema_violations, outcome.crashes) == (0, 0, 0), (
            f"{outcome.line()}\n{report}"
        )
        assert unbounded.messages == []
        # still answering, with the seeded data intact
        assert client.get("/health").json()["status"] == "ok"
        me = client.get("/api/me", headers={"Authorization": f"Bearer {seeded.tokens['requester']}"})
        assert me.status_code == 200, me.text
