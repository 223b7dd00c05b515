from marketplace.accounts.security import hash_password, new_token, token_digest, verify_password


def test_argon2_hash_round_trip() -> None:
    h = hash_password("s3cret-pass")
    assert h.startswith("$argon2id$")
    assert verify_password(h, "s3cret-pass")
    assert not verify_password(h, "s3cret-pasS")
    assert not verify_password("garbage", "s3cret-pass")


def test_tokens_are_random_and_stored_hashed() -> None:
    a, b = new_token(), new_token()
    assert a != b and a.startswith("tw_")
    assert token_digest(a) != a and len(token_digest(a)) == 64
