"""Streaming on top of the model core: sessions stepped one model step at a time, exact incremental decoding,
endless sliding-window generation and live steering. Synchronous; no sockets here."""
from .decoder import IncrementalDecoder
from .session import Frame, Session
from .stream import Chunk, decode_frames, open_session, stream, stream_audio

__all__ = ["Chunk", "Frame", "IncrementalDecoder", "Session", "decode_frames", "open_session", "stream", "stream_audio"]
