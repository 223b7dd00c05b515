"""Wallet linking with Sign-In with Ethereum: the exact issued message, once, by the named key."""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient

from marketplace.payments.rails import Rails
from tests.conftest import UserFactory


def _sign(message: str, key: bytes) -> str:
    return "0x" + Account.sign_message(encode_defunct(text=message), private_key=key).signature.hex()


def test_link_wallet_and_refuse_replay_and_foreign(
    client: TestClient, make_user: UserFactory, rails: Rails
) -> None:
    worker, other = make_user("worker"), make_user("worker")
    key, foreign_key = b"\x11" * 32, b"\x22" * 32
    address = Account.from_key(key).address
    r = client.post("/api/payouts/wallet/nonce", json={"address": address}, headers=worker["headers"])
    assert r.status_code == 200, r.text
    message = r.json()["message"]
    assert "wants you to sign in with your Ethereum account:\n" + address in message
    assert "Nonce: " + r.json()["nonce"] in message

    # A signature by another key is refused.
    bad = client.post(
        "/api/payouts/wallet/verify",
        json={"message": message, "signature": _sign(message, foreign_key)},
        headers=worker["headers"],
    )
    assert bad.status_code == 403
    # Another user cannot use this worker's nonce.
    stolen = client.post(
        "/api/payouts/wallet/verify",
        json={"message": message, "signature": _sign(message, key)},
        headers=other["headers"],
    )
    assert stolen.status_code == 403
    # A tampered message (same nonce) is refused.
    tampered = message.replace("Tilework payouts", "anything")
    assert (
        client.post(
            "/api/payouts/wallet/verify",
            json={"message": tampered, "signature": _sign(tampered, key)},
            headers=worker["headers"],
        ).status_code
        == 403
    )

    ok = client.post(
        "/api/payouts/wallet/verify",
        json={"message": message, "signature": _sign(message, key)},
        headers=worker["headers"],
    )
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"rail": "chain", "destination": address, "verified": True, "onboarding_url": None}
    # Replay: the nonce is spent.
    again = client.post(
        "/api/payouts/wallet/verify",
        json={"message": message, "signature": _sign(message, key)},
        headers=worker["headers"],
    )
    assert again.status_code == 409


def test_requester_cannot_link_and_connect_account(
    client: TestClient, make_user: UserFactory, rails: Rails
) -> None:
    requester, worker = make_user("requester"), make_user("worker")
    assert (
        client.post(
            "/api/payouts/wallet/nonce", json={"address": "0x" + "1" * 40}, headers=requester["headers"]
        ).status_code
        == 403
    )
    r = client.post("/api/payouts/stripe/account", headers=worker["headers"])
    assert r.status_code == 200, r.text
    assert r.json()["destination"].startswith("acct_") and r.json()["verified"] is True
    r2 = client.post("/api/payouts/stripe/account", headers=worker["headers"])
    assert r2.json()["destination"] == r.json()["destination"]
