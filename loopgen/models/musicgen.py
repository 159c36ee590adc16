"""MusicGen: the autoregressive family. One token per codebook per step through the one generation engine
(`engine.py`), with the public generate API; text conditioning, the codec and the facts are the shared base's."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..errors import LoopgenError
from .base import CodecLM, Generation, StepInfo
from .delay import undelay
from .int8_store import Int8
from .engine import Engine
from ..params import SamplingParams
from .sampling import check_seed

__all__ = ["Generation", "MusicGen", "StepInfo"]


class MusicGen(CodecLM):
    """Load with `loopgen.load_model`."""

    family = "musicgen"

    def quantize(self, stored: Int8 | None = None) -> Int8:
        """int8 weights with dynamic int8 activations for the per-step projections (the CPU's fastest path; see
        lm.MusicgenLM.quantize) and for the codec's streaming step matrices (SEANetDecoder.quantize_steps).
        Returns the LM's int8 values (for the store)."""
        made = self.lm.quantize(stored)
        self.codec.decoder.quantize_steps()
        return made

    # -- generation ----------------------------------------------------------------------------------------------
    def engine(self, voices: int = 1, rows: int = 2, positions: int = 16, compile: bool | str | None = None,
               graphs: bool = False):
        """A generation engine on this model (see `engine.Engine`)."""
        return Engine(self, voices, rows, positions, compile=compile, graphs=graphs)

    @torch.inference_mode()
    def generate(
        self,
        texts: list[str] | str,
        seconds: float = 8.0,
        temperature: float = SamplingParams.temperature,
        top_k: int = SamplingParams.top_k,
        top_p: float = SamplingParams.top_p,
        cfg_coef: float = SamplingParams.cfg_coef,
        seed: int | None = None,
        prompt_audio: torch.Tensor | np.ndarray | None = None,
        prompt_sample_rate: int | None = None,
        progress: Callable[[StepInfo], None] | None = None,
        compile: bool | str | None = None,
        melody: torch.Tensor | np.ndarray | list | None = None,
        melody_sample_rate: int | None = None,
        graphs: bool = False,
    ) -> Generation:
        """Generate `seconds` of new audio per text. Row b samples with seed + b (a fresh seed if None: see
        `Generation.seed`).

        With prompt_audio ([C, N] shared by all rows, or [B, C, N]), the result continues it: codes and audio hold
        the prompt's frames followed by the new ones. Guidance (an unconditional row per text) only when
        cfg_coef != 1. compile: run the step through torch.compile; graphs: replay it as a CUDA graph (see `Engine`).

        melody (a melody model): audio [C, N] for every row, [B, C, N], or a list of one audio (or None) per row, at
        melody_sample_rate; the music follows its chroma (`MusicgenMelody.melody_chroma`)."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            raise LoopgenError("at least one prompt text is needed")
        params = SamplingParams(temperature, top_k, top_p, cfg_coef).validate()
        seed = check_seed(seed)
        prompt = self.prompt_codes(prompt_audio, prompt_sample_rate, len(texts))
        p = 0 if prompt is None else prompt.shape[-1]
        frames = p + self.frames_for(seconds, p)
        b, d = len(texts), max(self.cfg.lm.delays)
        guided = params.cfg_coef != 1.0
        chromas, how = self.melodies(melody, melody_sample_rate, b)
        eng = self.engine(b, b * (1 + guided), frames + d, compile, graphs)
        voices = [eng.add([(t, 1.0)], params, seed + i, guided, frames + d, chromas[i]) for i, t in enumerate(texts)]
        for i, v in enumerate(voices):
            eng.start_window(v, None if prompt is None else prompt[i], frames)
            eng.prime(v)
        total = voices[0].cols - voices[0].col
        for step in range(total):
            eng.step()
            if progress is not None:
                progress(StepInfo(step + 1, total))
        seq = eng.v.seq[[v.slot for v in voices], :, : voices[0].cols]
        codes = undelay(seq, frames, self.cfg.lm.delays)
        return Generation(codes=codes, audio=self.decode(codes), sample_rate=self.sample_rate, prompt_frames=p,
                          seed=seed, melody=how)

