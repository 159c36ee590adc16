"""The daemon's log, kept readable under attack: python-osc warns on the root logger for every odd datagram (an
unknown type tag, a broken bundle), so a flood of them would flood the terminal. At most `most` such lines per
`per` seconds; the next one after a quiet period says how many were left out."""
from __future__ import annotations

import logging
import time


class RateLimit(logging.Filter):
    def __init__(self, source: str = "pythonosc", most: int = 5, per: float = 60.0):
        super().__init__()
        self.source, self.most, self.per = source, most, per
        self.start, self.count, self.dropped = time.monotonic(), 0, 0

    def filter(self, record: logging.LogRecord) -> bool:
        if self.source not in record.pathname:
            return True
        now = time.monotonic()
        if now - self.start > self.per:
            if self.dropped:
                record.msg = f"{record.getMessage()} (and {self.dropped} more like it in {self.per:g} s, not shown)"
                record.args = ()
            self.start, self.count, self.dropped = now, 0, 0
        self.count += 1
        if self.count > self.most:
            self.dropped += 1
            return False
        return True


EVENTS = logging.getLogger("loopgen.takes")  # one line per take started, saved, refused or failed
FAILED = ("model_error", "save_failed", "server_error")


def event_line(who: str, event) -> tuple[int, str] | None:
    """(level, line) for the terminal of an event sent to `who`, or None for the ones it does not show (audio,
    progress, pongs): what an OSC, Pd or Max user (UDP gets no errors back in many patches) can look at."""
    from ..protocol import messages as M

    if isinstance(event, M.Started):
        prompt = " + ".join(t for t, _ in event.prompts) if event.prompts else ""
        return logging.INFO, f"started  {event.id}  {event.seconds:.1f} s  {prompt[:80]!r}  ({who})"
    if isinstance(event, M.Done):
        if not event.path:
            return logging.INFO, f"stopped  {event.id} before its first audio: nothing saved  ({who})"
        return logging.INFO, f"saved    {event.id}  {event.seconds:.2f} s -> {event.path}  ({who})"
    if isinstance(event, M.Error):
        what = "failed " if event.code in FAILED else "refused"
        level = logging.ERROR if event.code in FAILED else logging.WARNING
        name = "" if event.id is None else f" {event.id}"
        message = " ".join(event.message.split())[:300]  # one line, however the message was written
        return level, f"{what}{name}: {event.code}: {message}  ({who})"
    if isinstance(event, M.Progress):
        return logging.DEBUG, f"progress {event.id}  {event.frames}/{event.total} frames, rtf {event.rtf:.2f}  ({who})"
    return None


def log_event(who: str, event) -> None:
    line = event_line(who, event)
    if line is not None and EVENTS.isEnabledFor(line[0]):
        EVENTS.log(line[0], line[1])


def configure(verbosity: int):
    """The daemon's terminal: -q warnings and errors only, default one line per take event, -v everything.
    Returns a function that puts logging back as it was (serve run in-process, as the tests do, leaves nothing)."""
    level = logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG
    root, ours = logging.getLogger(), logging.getLogger("loopgen")
    before = (root.level, ours.level)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    root.addHandler(handler)
    root.setLevel(logging.WARNING if verbosity <= 0 else logging.DEBUG)
    ours.setLevel(level)

    def restore() -> None:
        root.removeHandler(handler)
        root.setLevel(before[0])
        ours.setLevel(before[1])

    return restore
