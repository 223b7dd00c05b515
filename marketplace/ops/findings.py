"""One result of a check: the part, a stable code (``ok``, ``note_…`` or the problem), a sentence."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    part: str
    code: str
    detail: str

    @property
    def ok(self) -> bool:
        """``ok`` and ``note_…`` findings are fine; any other code is a problem."""
        return self.code == "ok" or self.code.startswith("note_")

    def line(self) -> str:
        if self.ok:
            return f"ok    {self.part}: {self.detail}"
        return f"FAIL  {self.code}: {self.part}: {self.detail}"

    def as_dict(self) -> dict[str, str]:
        return {"part": self.part, "code": self.code, "detail": self.detail}


def ok_finding(part: str, detail: str) -> Finding:
    return Finding(part, "ok", detail)
