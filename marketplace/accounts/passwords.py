"""Password policy: a length floor, a list of common passwords and stems, nothing built from the email.

The list (``common_passwords.txt``) is small on purpose: it catches the guesses an online attacker tries
first, which the login rate limit then makes expensive. Compared in lower case, with common letter
substitutions undone and digits/symbols stripped from both ends ("Dr@gon2024!" -> "dragon").
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

MIN_LENGTH = 8
MAX_LENGTH = 256
_LEET = str.maketrans({"@": "a", "4": "a", "0": "o", "1": "i", "3": "e", "$": "s", "5": "s", "7": "t"})
_EDGE = "0123456789!@#$%^&*()-_=+[]{};:'\",.<>/?\\|`~ "


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    text = (Path(__file__).with_name("common_passwords.txt")).read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#")


def _forms(password: str) -> set[str]:
    lower = password.lower()
    forms = {lower, lower.strip(_EDGE), lower.translate(_LEET), lower.strip(_EDGE).translate(_LEET)}
    forms.add(lower.translate(_LEET).strip(_EDGE))
    return {f for f in forms if f}


def password_problem(password: str, email: str = "") -> str | None:
    """Why ``password`` is not acceptable, or None."""
    if len(password) < MIN_LENGTH:
        return f"the password must have at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"the password must have at most {MAX_LENGTH} characters"
    if len(set(password)) <= 2:
        return "the password repeats one or two characters: choose something harder to guess"
    forms = _forms(password)
    if forms & common_passwords():
        return "this password is too common: choose something harder to guess (a few unrelated words work)"
    local = email.strip().lower().partition("@")[0]
    if local and (forms & {local, local.strip(_EDGE)} or password.lower() == email.strip().lower()):
        return "the password must not be your email address"
    return None
