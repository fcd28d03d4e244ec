"""Progress bars that suit where the output goes: a live tqdm bar on a terminal, a few plain lines in a log.

A tqdm bar redraws itself with carriage returns many times a second; written to a file (a log, a pipe, a job
scheduler's output) that leaves thousands of updates on one line. :func:`progress_bar` returns a plain tqdm bar
when its stream is a terminal and otherwise a :class:`LineProgressBar`, which writes one ordinary line (count,
elapsed time, ETA, rate, postfix) each time another tenth of the total is done, and never a carriage return.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import IO, Any

from tqdm import tqdm

LINES_PER_RUN = 10  # a line at 0 %, at every further tenth of the total, and at the end


def progress_bar(iterable: Iterable | None = None, **kwargs: Any) -> tqdm:
    """A tqdm bar over ``iterable`` (tqdm's keyword arguments), line-based when its stream is not a terminal.

    The stream is ``kwargs["file"]``, by default ``sys.stderr`` as for tqdm."""
    stream = kwargs.get("file") or sys.stderr
    kind = tqdm if is_terminal(stream) else LineProgressBar
    return kind(iterable, **kwargs)


def is_terminal(stream: IO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class LineProgressBar(tqdm):
    """A tqdm bar that writes whole lines: one when the count first reaches each tenth of ``total`` (0 % included),
    or, with no total, at counts 1, 2, 4, 8, ...; and a last one on close when the count moved since the last line.

    It updates on every step (``miniters=1``, ``mininterval=0``) so that no milestone is skipped; a line is
    formatted only at a milestone."""

    def __init__(self, iterable: Iterable | None = None, **kwargs: Any) -> None:
        kwargs.update(miniters=1, mininterval=0, ncols=0, dynamic_ncols=False)
        self._printed_milestone = -1
        self._printed_count: float | None = None
        super().__init__(iterable, **kwargs)

    def _milestone(self) -> int:
        if self.total:
            return int(LINES_PER_RUN * min(self.n, self.total) // self.total)
        return int(self.n).bit_length()  # 0 at 0, then one more at every power of two

    def _write_line(self) -> None:
        self.fp.write(self.__str__() + "\n")
        getattr(self.fp, "flush", lambda: None)()
        self._printed_count = self.n

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        if msg is not None:  # a request to clear or replace the bar: lines already written stay
            return True
        milestone = self._milestone()
        if milestone > self._printed_milestone:
            self._printed_milestone = milestone
            self._write_line()
        return True

    def clear(self, nolock: bool = False) -> None:
        """Nothing to clear: the bar is never drawn over text."""

    def moveto(self, n: int) -> None:
        """No cursor moves: nested bars write their lines in turn."""

    def close(self) -> None:
        if getattr(self, "disable", True):  # closed already, or never shown
            return
        if self.n != self._printed_count:
            self._ema_dt = lambda: None  # the overall rate in the last line, as tqdm does on close
            self._write_line()
        self.disable = True
        self._decr_instances(self)
