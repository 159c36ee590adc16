"""Streaming on top of the model core: sessions stepped one model step at a time, exact incremental decoding,
endless sliding-window generation and live steering. Synchronous; no sockets here."""
from .batch import Batch
from .decoder import IncrementalDecoder
from .loops import Loop, extend_loop, loop_samples, make_loop, vary_loop
from .session import Frame, Session
from .stream import Chunk, decode_frames, open_session, stream, stream_audio

__all__ = [
    "Batch", "Chunk", "Frame", "IncrementalDecoder", "Loop", "Session", "decode_frames", "extend_loop", "loop_samples",
    "make_loop", "open_session", "stream", "stream_audio", "vary_loop",
]
