"""Who an OSC sender is, sans-I/O: the names given with `/loopgen/hello`, and the rule that keeps them apart.

UDP has no connections, so a sender is its address (host, port). A name belongs to the first address that claimed
it until that address goes quiet (nothing heard from it for `quiet_s`); another address claiming a name still held
is refused (`name_taken`) and stays what it was. A sender that said no name, or was refused one, is its host (all
its unnamed ports are one peer). The table is bounded: the least recently heard address is forgotten first.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

QUIET_S = 120.0  # seconds without a datagram after which a name may be claimed by another address
MAX_ADDRESSES = 1024


@dataclass
class _Entry:
    name: str | None
    heard: float


@dataclass
class NameTable:
    quiet_s: float = QUIET_S
    max_addresses: int = MAX_ADDRESSES
    _by_addr: OrderedDict = field(default_factory=OrderedDict)  # (host, port) -> _Entry, least recent first

    def heard(self, addr: tuple[str, int], now: float) -> str | None:
        """A datagram from `addr` at `now` -> the name it holds (None: none)."""
        e = self._by_addr.pop(addr, None)
        if e is None:
            e = _Entry(None, now)
            while len(self._by_addr) >= self.max_addresses:
                self._by_addr.popitem(last=False)
        e.heard = now
        self._by_addr[addr] = e
        return e.name

    def holder(self, host: str, name: str, now: float) -> tuple[str, int] | None:
        """The address on `host` holding `name` now (heard within quiet_s), or None."""
        for a, e in self._by_addr.items():
            if a[0] == host and e.name == name and now - e.heard <= self.quiet_s:
                return a
        return None

    def claim(self, addr: tuple[str, int], name: str, now: float) -> bool:
        """`addr` says hello NAME: True when the name is its (it was free, quiet, or already its own)."""
        held = self.holder(addr[0], name, now)
        if held is not None and held != addr:
            return False
        for a, e in self._by_addr.items():  # a quiet holder loses the name; the new one gets it
            if a[0] == addr[0] and e.name == name and a != addr:
                e.name = None
        self.heard(addr, now)
        self._by_addr[addr].name = name
        return True

    def __len__(self) -> int:
        return len(self._by_addr)
