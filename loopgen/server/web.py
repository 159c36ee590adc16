"""What the WebSocket port answers to plain HTTP and whom it lets upgrade: the browser page's files, saved takes,
and the rules that keep other web pages out.

A browser on the user's machine will send requests to 127.0.0.1 for any page it shows; two rules stop a foreign
page from driving the daemon:
- Host: a request must name the daemon by a name that cannot be rebound: an IP literal, `localhost`, the
  configured `--host`, this machine's own name, or one the user allowed (`--allow-host`). A page on
  `http://evil.example:8765` whose DNS name was rebound to 127.0.0.1 sends `Host: evil.example:8765`: refused, for
  WebSocket and HTTP alike.
- Origin (sent by browsers only): the daemon's own page (an allowed host, on the daemon's port), a page on
  loopback, or one allowed by `--allow-origin`.
Files are opened without following links and read off the event loop; HEAD gets the headers only.
"""
from __future__ import annotations

import ipaddress
import os
import socket
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

MAX_TAKE_BYTES = 1 << 30  # a take file served at most this big (600 s of 8 channels of float at 48 kHz: ~0.9 GB)


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


@dataclass(frozen=True)
class Hosts:
    """The names a request may call the daemon by (see the module docstring)."""

    configured: str = "127.0.0.1"
    allowed: tuple[str, ...] = ()

    def ok(self, host: str) -> bool:
        """`host`: a host name or literal, no port (IPv6 without brackets)."""
        h = host.lower().rstrip(".")
        if not h:
            return False
        if _ip(h) or h == "localhost":
            return True
        names = {self.configured.lower(), *(a.lower() for a in self.allowed)}
        if self.configured in ("0.0.0.0", "::", ""):  # every interface: this machine's own names too
            own = socket.gethostname().lower()
            names |= {own, own.split(".")[0] + ".local"}
        return h in names

    def header_ok(self, value: str, port: int) -> bool:
        """A Host header ("name:port", "[v6]:port", or a bare name) names the daemon: an allowed name, and the
        daemon's port when it says one."""
        try:
            u = urlsplit("//" + value)
            name, p = u.hostname, u.port
        except ValueError:
            return False
        return (bool(name) and "@" not in value and u.netloc == value and not u.path and self.ok(name)
                and p in (None, port))


def origin_ok(origin: str, hosts: Hosts, port: int, allowed: tuple[str, ...]) -> bool:
    """A browser page may connect if it is the daemon's own (an allowed host name on its port), on loopback, or
    allowed by --allow-origin. Clients that send no Origin (programs, Max, Pd) are not browsers and are not asked."""
    if "*" in allowed or origin in allowed:
        return True
    try:
        u = urlsplit(origin)
        hostname, p = u.hostname, u.port
    except ValueError:
        return False
    if u.scheme not in ("http", "https") or not hostname or u.path or u.query or u.fragment or "@" in u.netloc:
        return False
    if is_loopback(hostname):
        return True
    return hosts.ok(hostname) and (p or {"http": 80, "https": 443}[u.scheme]) == port


def web_file(name: str) -> bytes | None:
    """A file of the browser page, or None (no paths outside the page's folder)."""
    from importlib.resources import files

    if not name or "/" in name or "\\" in name or name.startswith(".") or len(name) > 100:
        return None
    f = files("loopgen.clients").joinpath("web", name)
    try:
        return f.read_bytes() if f.is_file() else None
    except OSError:  # a name the file system refuses (too long, odd bytes): not ours
        return None


def take_name_ok(name: str) -> bool:
    return (name.endswith(".wav") and "/" not in name and "\\" not in name and not name.startswith(".")
            and "\0" not in name and len(name) <= 255)


def take_file(folder: Path, name: str, head: bool = False) -> tuple[int, bytes] | None:
    """A take's WAV from the takes folder by its bare file name -> (its size, its bytes; b"" for HEAD), or None.
    No paths, nothing but finished .wav files, and never a link (to /etc/passwd, /proc/self/environ), wherever it
    points: the file is opened without following links and checked as opened. Blocking: call it off the loop."""
    if not take_name_ok(name):
        return None
    try:
        fd = os.open(Path(folder) / name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:  # missing, a link (ELOOP), not allowed
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_TAKE_BYTES:  # a FIFO, a device, a folder: not a take
            return None
        if head:
            return st.st_size, b""
        with os.fdopen(fd, "rb", closefd=False) as f:
            body = f.read(st.st_size)
        return len(body), body
    except OSError:
        return None
    finally:
        os.close(fd)
