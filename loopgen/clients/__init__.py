"""Clients of the daemon. The Python client imports only `loopgen.protocol`."""
from .client import Client, connect

__all__ = ["Client", "connect"]
