"""``/health`` and ``/ready`` against a real Redis of the test's own, stopped for ten seconds and
started again: ``/ready`` answers 503 naming redis meanwhile and 200 again after, with no restart."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
from fastapi.testclient import TestClient

from benchmarks._load_stack import RedisServer
from marketplace.app import create_app
from marketplace.config import Settings

DOWN_FOR_S = 10.0


def test_health_is_cheap_and_ready_names_each_part(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "ok"
    r = client.get("/ready")
    assert r.status_code == 200, r.text
    checks = r.json()["checks"]
    assert checks["database"]["code"] == "ok" and checks["storage"]["code"] == "ok"
    assert checks["redis"]["code"] == "note_in_process" and checks["chain"]["code"] == "note_embedded"


def test_ready_is_503_while_redis_is_down_and_recovers(settings: Settings, own_redis: RedisServer) -> None:
    settings = settings.model_copy(update={"redis_url": own_redis.url})
    redis.Redis.from_url(own_redis.url).set("tilework:ready-test", "kept")
    with TestClient(create_app(settings)) as client:
        assert client.get("/ready").status_code == 200
        own_redis.stop()
        started = time.monotonic()
        answers = []
        while time.monotonic() - started < DOWN_FOR_S:
            r = client.get("/ready")
            answers.append(r.status_code)
            assert r.status_code == 503, r.text
            body = r.json()
            assert body["error"] == "not_ready" and list(body["down"]) == ["redis"]
            assert body["down"]["redis"].startswith("redis_unreachable")
            assert client.get("/health").status_code == 200  # alive: no restart wanted
            time.sleep(1.0)
        assert len(answers) >= 5
        own_redis.start()
        r = client.get("/ready")
        assert r.status_code == 200, r.text
    assert redis.Redis.from_url(own_redis.url).get("tilework:ready-test") == b"kept"


def test_stripe_key_modes_are_checked(settings: Settings) -> None:
    from marketplace.ops.checks import check_stripe

    def codes(**update: object) -> list[str]:
        return [f.code for f in check_stripe(settings.model_copy(update=update))]

    assert codes() == ["note_off"]
    live = {"stripe_secret_key": "sk_live_x", "stripe_connect": "stripe"}
    assert codes(**live, stripe_publishable_key="pk_test_x") == ["stripe_mode_mismatch"]
    assert codes(**live, stripe_publishable_key="pk_live_x") == ["ok"]
    assert codes(stripe_secret_key="sk_test_x") == ["stripe_connect_standin"]
    emulated = {"stripe_secret_key": "sk_test_x", "stripe_api_base": "http://127.0.0.1:8420"}
    assert codes(**emulated) == ["ok"]
    assert codes(stripe_secret_key="sk_test_x", stripe_connect="stripe", environment="production") == [
        "note_test_mode"
    ]


def test_ready_names_an_unmigrated_database(settings: Settings, fresh_database: Callable[[], str]) -> None:
    empty = settings.model_copy(update={"database_url": fresh_database()})
    with TestClient(create_app(empty)) as client:
        r = client.get("/ready")
    assert r.status_code == 503
    assert list(r.json()["down"]) == ["database"]
    assert r.json()["down"]["database"].startswith("database_unmigrated")
