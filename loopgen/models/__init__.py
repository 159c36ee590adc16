"""Pure-PyTorch MusicGen: the LM, EnCodec, T5, sampling and checkpoint loading. Knows nothing of streaming."""
from .loading import KNOWN_MODELS, load_model
from .musicgen import Generation, MusicGen, StepInfo
from .sampling import SamplingParams

__all__ = ["KNOWN_MODELS", "Generation", "MusicGen", "SamplingParams", "StepInfo", "load_model"]
