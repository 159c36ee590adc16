"""Every error code the daemon can send is documented: programs switch on codes, so a code that is sent but not in
docs/protocol.md is a broken promise (issue 26: `bad_request` was sent, never documented)."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SENT = re.compile(r"""(?:ProtocolError|Error)\(\s*["']([a-z_]+)["']""")


def test_every_code_sent_is_documented():
    sent = set()
    for f in (ROOT / "loopgen").rglob("*.py"):
        sent |= set(SENT.findall(f.read_text()))
    assert {"bad_field", "out_of_range", "busy", "name_taken"} <= sent  # the scan finds what it should
    docs = (ROOT / "docs" / "protocol.md").read_text()
    documented = set(re.findall(r"`([a-z_]+)`", docs))
    assert sent - documented == set()
