"""Streaming on top of the model core: incremental decoding (more to come: sessions, loops). No sockets here."""
from .decoder import IncrementalDecoder

__all__ = ["IncrementalDecoder"]
