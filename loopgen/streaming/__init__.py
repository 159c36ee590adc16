"""Streaming on top of the model core: sessions stepped one model step at a time, exact incremental decoding,
endless sliding-window generation and live steering. Synchronous; no sockets here."""
from .batch import EngineBatch
from .decoder import IncrementalDecoder
from .loops import Loop, extend_loop, loop_samples, make_loop, vary_loop
from .family import Batch, open_stream
from .segments import SegmentBatch, SegmentSession
from .session import Session
from .types import Frame, Stepper, Stream
from .stream import Chunk, decode_frames, open_session, stream, stream_audio

__all__ = [
    "Batch", "Chunk", "EngineBatch", "Frame", "IncrementalDecoder", "Loop", "SegmentBatch", "SegmentSession",
    "Session", "Stepper", "Stream", "decode_frames", "extend_loop", "loop_samples", "make_loop", "open_session",
    "open_stream", "stream", "stream_audio", "vary_loop",
]
