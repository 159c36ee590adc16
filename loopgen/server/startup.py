"""What the daemon checks and measures as it starts: ports free before the model loads, the model's speed on this
machine once it has, and the address to print for the page."""
from __future__ import annotations

import socket

from ..errors import LoopgenError

SPEED_SECONDS = 0.3  # audio made at start to time the model on this machine


def measure_speed(m) -> float | None:
    """Audio seconds the model makes per second here, one stream decoded frame by frame as the daemon plays it
    (`stream_audio`: the incremental decoder, an int8 model's int8 codec; not `generate`'s one offline decode, which
    is cheaper per frame and would overstate it): what the terminal, `welcome` and the clients say about playing
    live. None for MAGNeT (a segment's passes make all of its audio at once: its first take says)."""
    import time

    from ..streaming import stream_audio

    if m.family != "musicgen":
        return None
    t = time.perf_counter()
    for _ in stream_audio(m, ["timing"], SPEED_SECONDS, seed=0):
        pass
    return round(SPEED_SECONDS / max(time.perf_counter() - t, 1e-6), 2)


def speed_line(rtf: float | None, dtype: str = "float32", device: str = "cpu", smallest: bool = False
               ) -> str:
    """The terminal's line on the model's speed; below real time, what would play live (a GPU, or on one a faster
    GPU; int8 only where it is not already the precision, and only on a CPU, where it runs; a smaller model only
    where one exists: `smallest`, the model's LM is musicgen-small's size or less)."""
    if rtf is None:
        return "speed      measured on the first take"
    if rtf >= 1.0:
        return f"speed      {rtf:.2f}x real time on this machine: plays live"
    cpu = device == "cpu"
    faster = ([("a GPU" if cpu else "a faster GPU")] + (["--dtype int8"] if cpu and dtype != "int8" else [])
              + ([] if smallest else ["a smaller model"]))
    either = f"{', '.join(faster[:-1])} or {faster[-1]}" if len(faster) > 1 else faster[0]
    return (f"speed      {rtf:.2f}x real time on this machine: renders {1 / rtf:.1f}x slower than real time, so takes "
            f"arrive after they are made ({either} plays live)")


def reachable_address(host: str) -> str:
    """The address to print for `host`: itself, or for every interface (0.0.0.0, ::) this machine's address on the
    LAN (a browser will not open http://0.0.0.0), as the route to the outside would use it (no packet is sent)."""
    if host not in ("0.0.0.0", "::", ""):
        return f"[{host}]" if ":" in host else host
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: routing only, nothing leaves the machine
            return s.getsockname()[0]
    except OSError:
        return socket.gethostname()


def probe_port(host: str, port: int, kind: int, what: str, flag: str) -> None:
    """Refuse a port another program holds (or the host cannot offer) now, not after the model has loaded."""
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host or None, port, type=kind, flags=socket.AI_PASSIVE)
    except OSError as e:
        raise LoopgenError(f"cannot listen on {host}: {e.strerror or e}") from None
    for family, type_, proto, _, addr in infos[:1]:
        with socket.socket(family, type_, proto) as s:
            if kind == socket.SOCK_STREAM:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server itself binds
            try:
                s.bind(addr)
            except OSError as e:
                raise LoopgenError(f"cannot listen for {what} on {host}:{port}: {e.strerror or e}; choose another "
                                   f"port with {flag}") from None
