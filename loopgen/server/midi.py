"""MIDI control: a TOML mapping from notes and CCs to loopgen actions, and the input port that feeds it.

mido's callback runs on its own thread; it only hops the message onto the event loop (call_soon_threadsafe)."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import LoopgenError
from ..params import REQUEST_LIMITS, check_range
from ..protocol.messages import LENGTH_LIMITS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_MAP = Path(__file__).with_name("midi_default.toml")
CC_TARGETS = {*REQUEST_LIMITS, "volume"}
VOLUME_MAX = 4.0  # the output gain a CC may reach (+12 dB)


@dataclass
class MidiMap:
    notes: dict[int, str] = field(default_factory=dict)  # note -> prompt
    stop_note: int | None = None
    cc: dict[int, tuple[str, float, float]] = field(default_factory=dict)  # cc number -> (target, min, max)
    bpm: float = 120.0
    bars: float = 4.0
    channel: int = 0  # 1-16, 0 = any

    @classmethod
    def load(cls, path: Path | None = None) -> "MidiMap":
        path = path or DEFAULT_MAP
        try:
            d = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise LoopgenError(f"cannot read MIDI map {path}: {e}") from e
        m = cls()
        dflt = d.get("defaults", {})
        try:
            m.bpm, m.bars = float(dflt.get("bpm", 120)), float(dflt.get("bars", 4))
            m.channel = int(dflt.get("channel", 0))
        except (TypeError, ValueError) as e:
            raise LoopgenError(f"{path}: [defaults]: bpm and bars are numbers, channel 0-16 ({e})") from None
        for name, v in (("bpm", m.bpm), ("bars", m.bars)):
            lo, hi, _ = LENGTH_LIMITS[name]
            if not lo <= v <= hi:  # NaN and infinities too
                raise LoopgenError(f"{path}: [defaults]: {name} must be from {lo:g} to {hi:g}, got {v}")
        if not 0 <= m.channel <= 16:
            raise LoopgenError(f"{path}: [defaults]: channel must be 0 (any) or 1-16, got {m.channel}")
        for n in d.get("notes", []):
            if not isinstance(n.get("note"), int) or not isinstance(n.get("prompt"), str):
                raise LoopgenError(f"{path}: each [[notes]] needs note (0-127) and prompt")
            m.notes[n["note"]] = n["prompt"]
        if "notes_stop" in d:
            m.stop_note = int(d["notes_stop"]["note"])
        for target, spec in d.get("cc", {}).items():
            if target not in CC_TARGETS:
                raise LoopgenError(f"{path}: unknown CC target {target!r}; known: {', '.join(sorted(CC_TARGETS))}")
            lo, hi = float(spec.get("min", 0.0)), float(spec.get("max", 1.0))
            if target == "volume":
                if not (0.0 <= lo <= VOLUME_MAX and 0.0 <= hi <= VOLUME_MAX):
                    raise LoopgenError(f"{path}: [cc.volume]: min and max are gains from 0 to {VOLUME_MAX:g}")
            else:
                try:
                    check_range(target, lo, hi)  # the same ranges as every other path
                except LoopgenError as e:
                    raise LoopgenError(f"{path}: [cc.{target}]: {e}") from e
            m.cc[int(spec["cc"])] = (target, lo, hi)
        return m

    def check_model(self, check: Any) -> None:
        """Each CC range inside the loaded model's own ranges: `check(given)` raises LoopgenError for sampling values
        outside them (the model family's `sampling`). A MAGNeT's temperature goes to 10, a MusicGen's to 5."""
        for target, lo, hi in self.cc.values():
            if target == "volume":
                continue
            for v in (lo, hi):
                try:
                    check({target: v})
                except LoopgenError as e:
                    raise LoopgenError(f"MIDI map: [cc.{target}]: {lo:g}..{hi:g} does not fit this model ({e})") from None

    def actions(self, msg: Any) -> list[tuple[str, Any]]:
        """A mido Message -> [("generate", prompt) | ("stop", None) | ("set", {param: value}) | ("volume", v)]."""
        if self.channel and getattr(msg, "channel", None) is not None and msg.channel + 1 != self.channel:
            return []
        if msg.type == "note_on" and msg.velocity > 0:
            if msg.note == self.stop_note:
                return [("stop", None)]
            if msg.note in self.notes:
                return [("generate", self.notes[msg.note])]
        if msg.type == "control_change" and msg.control in self.cc:
            target, lo, hi = self.cc[msg.control]
            value = lo + (hi - lo) * msg.value / 127.0
            if target == "volume":
                return [("volume", value)]
            if target == "top_k":
                value = int(round(value))
            return [("set", {target: value})]
        return []


def open_input(name: str, callback) -> Any:
    """Open a MIDI input whose name contains `name`; callback(msg) runs on mido's thread."""
    try:
        import mido
    except ImportError as e:  # pragma: no cover - mido is a dependency
        raise LoopgenError("MIDI needs mido: pip install mido") from e
    try:
        names = mido.get_input_names()
    except Exception as e:
        try:
            import rtmidi  # noqa: F401
        except ImportError:
            raise LoopgenError(f"MIDI is unavailable: its backend is missing; pip install 'loopgen[midi]' "
                               f"(python-rtmidi)") from e
        raise LoopgenError(f"MIDI is unavailable: python-rtmidi is installed but cannot open the system's MIDI "
                           f"({type(e).__name__}: {e}); on Linux it needs the ALSA sequencer "
                           f"(the snd-seq kernel module, /dev/snd/seq)") from e
    match = [n for n in names if name.lower() in n.lower()]
    if not match:
        raise LoopgenError(f"no MIDI input matching {name!r}; inputs: {', '.join(names) or 'none'}")
    return mido.open_input(match[0], callback=callback)
