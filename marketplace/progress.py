"""Progress of long command-line work: a live tqdm bar on a terminal; anywhere else (a pipe, ``| tee``,
a CI log) no refreshing bar, just one line per step when it ends."""

from __future__ import annotations

import sys
from typing import IO, Any

from tqdm import tqdm


class Progress:
    def __init__(self, desc: str, *, total: int | None = None, unit: str = "", quiet: bool = False,
                 file: IO[str] | None = None) -> None:  # fmt: skip
        self.file = file or sys.stderr
        self.desc, self.unit, self.total, self.n = desc, unit, total, 0
        self.quiet = quiet
        self.closed = False
        interactive = bool(getattr(self.file, "isatty", lambda: False)())
        self.bar: tqdm[Any] | None = (
            tqdm(desc=desc, total=total, unit=unit, leave=True, file=self.file)
            if interactive and not quiet
            else None
        )

    def update(self, k: int = 1) -> None:
        self.n += k
        if self.bar is not None:
            self.bar.update(k)

    def set_total(self, total: int) -> None:
        self.total = total
        if self.bar is not None:
            self.bar.total = total
            self.bar.refresh()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.bar is not None:
            self.bar.close()
        elif not self.quiet:
            of = f"/{self.total}" if self.total is not None and self.total != self.n else ""
            print(f"{self.desc.strip()}: {self.n}{of} {self.unit}".rstrip(), file=self.file, flush=True)
