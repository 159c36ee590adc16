"""The MusicGen composite: T5 text encoder + projection + LM + EnCodec, with the public generate/encode/decode API."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import LoopgenError
from .audio import prepare_audio
from .config import MusicgenConfig
from .delay import undelay
from .encodec import Encodec
from .engine import Engine
from .lm import MusicgenLM
from .sampling import SamplingParams, check_seed
from .t5 import T5Encoder, TextTokenizer


@dataclass
class Generation:
    codes: torch.Tensor  # [B, K, T] long, delay undone; a continuation's prompt frames first
    audio: torch.Tensor  # [B, C, N] float32 at sample_rate
    sample_rate: int
    prompt_frames: int = 0  # frames of `codes` that came from the prompt audio
    seed: int = 0  # row b sampled with seed + b
    melody: str | None = None  # a melody model: how its chroma was made (see MusicgenMelody.melody_chroma)


@dataclass
class StepInfo:
    """Passed to a generate() progress callback after each model step."""

    step: int  # steps done
    total: int  # steps in this generation


class MusicGen(nn.Module):
    """Load with `loopgen.load_model`. Texts are encoded by T5 (float32), the LM runs in the chosen dtype, and the
    codec runs in float32."""

    prefixed = False  # True: conditioned by a prefix of the sequence (melody), not by cross-attention

    def __init__(self, cfg: MusicgenConfig, tokenizer: TextTokenizer, name: str = "musicgen"):
        super().__init__()
        self.cfg = cfg
        self.name = name
        self.tokenizer = tokenizer
        self.text = T5Encoder(cfg.text)
        self.proj = nn.Linear(cfg.text.d_model, cfg.lm.dim) if cfg.has_projection else None
        self.lm = MusicgenLM(cfg.lm)
        self.codec = Encodec(cfg.audio)

    # -- facts ---------------------------------------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        return self.cfg.audio.sampling_rate

    @property
    def channels(self) -> int:
        return self.cfg.lm.audio_channels

    @property
    def frame_rate(self) -> int:
        return self.cfg.audio.frame_rate

    @property
    def num_codebooks(self) -> int:
        return self.cfg.lm.num_codebooks

    @property
    def device(self) -> torch.device:
        return self.lm.emb.device

    @property
    def dtype(self) -> torch.dtype:
        return self.lm.emb.dtype

    @property
    def max_frames(self) -> int:
        """Frames (prompt included) one window can hold: the training window, or fewer if positions run out."""
        by_window = int(round(self.cfg.max_seconds * self.frame_rate))
        return min(by_window, self.cfg.lm.max_positions - max(self.cfg.lm.delays) - 1)

    # -- conditioning --------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def encode_text(self, texts: list[str], guided: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """texts -> (states [B', S, dim], mask [B', S]); B' = 2B with the unconditional (all-zero) rows last when
        guided, as transformers' classifier-free guidance does."""
        ids, mask = self.tokenizer(texts, self.device)
        states = self.text(ids, mask)
        if self.proj is not None:
            states = self.proj(states)
        states = states * mask[..., None].to(states.dtype)
        if guided:
            states = torch.cat([states, torch.zeros_like(states)], dim=0)
            mask = torch.cat([mask, torch.zeros_like(mask)], dim=0)
        return states, mask

    # -- codec ---------------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def encode(self, wav: torch.Tensor | np.ndarray, sample_rate: int) -> torch.Tensor:
        """wav [C, N] or [B, C, N] at any rate and channel count -> codes [B, K, T], T = ceil(N' / hop) at the
        model's rate. Stereo models code each channel separately and interleave the codebooks [L0, R0, L1, ...]."""
        x = prepare_audio(wav, sample_rate, self.sample_rate, self.channels).to(self.device)
        b, c, n = x.shape
        codes = self.codec.encode(x.reshape(b * c, 1, n))  # [B*C, K', T]
        codes = codes.view(b, c, codes.shape[1], codes.shape[2])
        return codes.transpose(1, 2).reshape(b, c * codes.shape[2], codes.shape[3])  # interleave channels

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [B, K, T] -> audio [B, C, T * hop] float32."""
        if codes.dim() != 3 or codes.shape[1] != self.num_codebooks:
            raise LoopgenError(f"codes must be [B, {self.num_codebooks}, T], got {tuple(codes.shape)}")
        codes = codes.to(self.device)
        b, k, t = codes.shape
        c = self.channels
        per_channel = codes.view(b, k // c, c, t).transpose(1, 2).reshape(b * c, k // c, t)
        wav = self.codec.decode(per_channel)
        return wav.view(b, c, -1)

    # -- generation ----------------------------------------------------------------------------------------------
    def prompt_codes(self, audio: torch.Tensor | np.ndarray | None, sample_rate: int | None, rows: int) -> torch.Tensor | None:
        """Prompt audio ([C, N] for every row, or [B, C, N]) -> codes [rows, K, P], or None without audio."""
        if audio is None:
            return None
        if sample_rate is None:
            raise LoopgenError("prompt_sample_rate is required with prompt_audio")
        codes = self.encode(audio, sample_rate)
        if codes.shape[0] == 1 and rows > 1:
            codes = codes.expand(rows, -1, -1).contiguous()
        if codes.shape[0] != rows:
            raise LoopgenError(f"{codes.shape[0]} prompt audios for {rows} prompts")
        return codes

    def frames_for(self, seconds: float, prompt_frames: int = 0, window: bool = True) -> int:
        """Frames for `seconds` of new audio; `window`: refuse more than one window holds after the prompt."""
        if not (seconds > 0 and math.isfinite(seconds)):
            raise LoopgenError(f"seconds must be a finite number > 0, got {seconds}")
        frames = max(1, int(round(seconds * self.frame_rate)))
        if window and prompt_frames + frames > self.max_frames:
            room = (self.max_frames - prompt_frames) / self.frame_rate
            raise LoopgenError(
                f"{seconds:g} s is more than this model makes in one window: {self.max_frames / self.frame_rate:g} s"
                f" including the prompt ({prompt_frames / self.frame_rate:g} s), so at most {max(room, 0):g} s here"
            )
        return frames

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

    def melodies(self, melody, sample_rate: int | None, rows: int) -> tuple[list[torch.Tensor | None], str | None]:
        """Melody audio for `rows` rows (see `generate`) -> (one-hot chroma [T, 12] or None per row, how it was
        made). This model takes no melody: anything but None is refused."""
        if melody is None:
            return [None] * rows, None
        raise self.no_melody()

    def no_melody(self) -> LoopgenError:
        """The one error for a melody given to a model without melody conditioning."""
        return LoopgenError(f"{self.name} takes no melody: use a melody model (facebook/musicgen-melody)")
