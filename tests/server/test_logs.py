"""The daemon's terminal: one line per take started, saved, refused or failed by default; -q only warnings and
errors; -v progress too."""
from __future__ import annotations

import logging

from loopgen.protocol import messages as M
from loopgen.server.logs import EVENTS, configure, event_line


def test_quiet_default_and_verbose():
    handlers = list(logging.getLogger().handlers)
    for verbosity, info, debug in ((-1, False, False), (0, True, False), (1, True, True)):
        restore = configure(verbosity)
        try:
            assert EVENTS.isEnabledFor(logging.INFO) is info and EVENTS.isEnabledFor(logging.DEBUG) is debug
            assert EVENTS.isEnabledFor(logging.WARNING)  # refusals are shown even with -q
        finally:
            restore()
        assert logging.getLogger().handlers == handlers  # nothing left behind (serve run in-process)


def test_one_line_per_event():
    assert event_line("MIDI", M.Started("midi-1", 8.0, (("dub techno", 1.0),))) == (
        logging.INFO, "started  midi-1  8.0 s  'dub techno'  (MIDI)")
    level, line = event_line("OSC deviceA", M.Error("model_error", "RuntimeError: x\ny", "osc-deviceA-2"))
    assert level == logging.ERROR and line.startswith("failed  osc-deviceA-2: model_error: ") and "\n" not in line
    level, line = event_line("OSC 127.0.0.1", M.Error("busy", "busy: stop one", "g"))
    assert level == logging.WARNING and line.startswith("refused g: busy: ")
    assert event_line("x", M.Pong(1)) is None and event_line("x", M.Audio("a", 0, 0, b"", 1)) is None


def test_the_printed_address_is_one_a_browser_opens():
    from loopgen.server.startup import reachable_address

    assert reachable_address("127.0.0.1") == "127.0.0.1" and reachable_address("::1") == "[::1]"
    for every in ("0.0.0.0", "::"):
        a = reachable_address(every)
        assert a not in ("0.0.0.0", "::", "") and not a.startswith("0.")
