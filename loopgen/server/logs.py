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
