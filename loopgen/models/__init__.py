"""Pure-PyTorch MusicGen: the LM and its one generation engine, EnCodec (its streaming decoder state included), T5,
sampling and checkpoint loading. Imports nothing from loopgen.streaming, protocol or server."""
from .loading import KNOWN_MODELS, load_model
from .base import CodecLM, Generation, StepInfo
from .musicgen import MusicGen
from ..params import SamplingParams
from .threads import set_threads

__all__ = ["KNOWN_MODELS", "CodecLM", "Generation", "MusicGen", "SamplingParams", "StepInfo", "load_model",
           "set_threads"]
