"""Process-wide interpreter settings the API relies on.

py-evm (``eth/__init__.py``) and py_ecc (``py_ecc/__init__.py``, pulled in by eth-account, which web3
needs on every rail) raise Python's recursion limit to 100,000 when they are imported. With that limit
the C JSON parser no longer stops at a ``RecursionError`` on a deeply nested body: it overflows the C
stack and the whole process dies with a segfault. The API process imports them once, up front, and puts
the interpreter's own limit back, so a later lazy import changes nothing either.
"""

from __future__ import annotations

import sys

#: CPython's default. Deep input then ends in a ``RecursionError`` (a 400), never a C stack overflow.
#: The in-process EVM needs far less: our contracts nest two or three calls.
RECURSION_LIMIT = 1000


def keep_default_recursion_limit() -> None:
    """Import the libraries that raise the limit, then restore it (idempotent)."""
    import eth  # noqa: F401  (py-evm: raises the limit on first import)
    import py_ecc  # noqa: F401  (same)

    sys.setrecursionlimit(RECURSION_LIMIT)
