"""Progress output (issue 14): on a terminal a live bar; in a pipe or a log no refreshing bar, one
line per step. Before, ``tilework demo | tee`` and ``tilework job create … 2> log`` wrote a line per
refresh."""

from __future__ import annotations

import io

from marketplace.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_pipe_gets_one_line_per_step_and_no_refreshes() -> None:
    out = io.StringIO()
    bar = Progress(" checking", total=500, unit="img", file=out)
    for _ in range(500):
        bar.update(1)
    bar.close()
    bar.close()  # closing twice writes nothing more
    unknown = Progress("listing", unit="img", file=out)
    unknown.update(42)
    unknown.close()
    assert out.getvalue() == "checking: 500 img\nlisting: 42 img\n"


def test_an_unfinished_step_says_how_far_it_got() -> None:
    out = io.StringIO()
    bar = Progress("crowd", total=10, unit="step", file=out)
    bar.update(7)
    bar.close()
    assert out.getvalue() == "crowd: 7/10 step\n"


def test_quiet_writes_nothing_and_a_terminal_gets_a_bar() -> None:
    out = io.StringIO()
    quiet = Progress("setup", total=1, quiet=True, file=out)
    quiet.update(1)
    quiet.close()
    assert out.getvalue() == ""
    tty = Terminal()
    live = Progress("setup", total=3, unit="step", file=tty)
    live.update(3)
    live.close()
    assert "\r" in tty.getvalue() and "3/3" in tty.getvalue()  # tqdm's live bar
