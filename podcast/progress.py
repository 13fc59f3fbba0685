"""Progress reporting: the library calls a callback, the caller (the CLI) draws it.

A long step (analysing a recording, encoding a master, uploading a file) calls a
:data:`Progress` callback with its label and how far it is; nothing in the library prints
or knows about terminals.  ``podcast`` on a terminal draws a click progress bar per step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: ``progress(label, done, total)``: ``done`` of ``total`` units (tenths of a second of
#: audio, bytes of an upload) of the step ``label``.  A step's first call has ``done`` 0,
#: then ``done`` only grows; its last has ``done == total`` (the step is over).
Progress = Callable[[str, int, int], None]


class Phases:
    """The steps of a master, reported to a :data:`Progress` callback in seconds done
    (tenths of a second on the callback); silent without one."""

    def __init__(self, report: Progress | None) -> None:
        self.report = report

    @contextmanager
    def phase(self, label: str, seconds: float) -> Iterator[Callable[[float], None]]:
        """A step of ``seconds`` named ``label``; yields the function to call with the
        seconds done so far."""
        report = self.report
        if report is None:
            yield lambda _seconds: None
            return
        total = max(1, int(seconds * 10))
        shown = [0]
        report(label, 0, total)

        def update(done_seconds: float) -> None:
            now = min(int(done_seconds * 10), total)
            if now > shown[0]:
                shown[0] = now
                report(label, now, total)

        yield update
        if shown[0] < total:  # the step is over, whatever its last figure said
            report(label, total, total)
