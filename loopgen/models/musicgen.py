"""The MusicGen composite: T5 text encoder + projection + LM + EnCodec, with the public generate/encode/decode API."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import LoopgenError
from .audio import prepare_audio
from .config import MusicgenConfig
from .delay import forced_columns, undelay
from .encodec import Encodec
from .lm import LMCache, MusicgenLM
from .sampling import SamplingParams, guide, make_generators, sample
from .t5 import T5Encoder, TextTokenizer


@dataclass
class Generation:
    codes: torch.Tensor  # [B, K, T] long, delay undone; a continuation's prompt frames first
    audio: torch.Tensor  # [B, C, N] float32 at sample_rate
    sample_rate: int
    prompt_frames: int = 0  # frames of `codes` that came from the prompt audio


@dataclass
class StepInfo:
    """Passed to a generate() progress callback after each model step."""

    step: int  # steps done
    total: int  # steps in this generation


class MusicGen(nn.Module):
    """Load with `loopgen.load_model`. Texts are encoded by T5 (float32), the LM runs in the chosen dtype, and the
    codec runs in float32."""

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

    def frames_for(self, seconds: float, prompt_frames: int = 0) -> int:
        if not seconds > 0:
            raise LoopgenError(f"seconds must be > 0, got {seconds}")
        frames = max(1, int(round(seconds * self.frame_rate)))
        if prompt_frames + frames > self.max_frames:
            room = (self.max_frames - prompt_frames) / self.frame_rate
            raise LoopgenError(
                f"{seconds:g} s is more than this model makes in one window: {self.max_frames / self.frame_rate:g} s"
                f" including the prompt ({prompt_frames / self.frame_rate:g} s), so at most {max(room, 0):g} s here"
            )
        return frames

    @torch.inference_mode()
    def generate(
        self,
        texts: list[str] | str,
        seconds: float = 8.0,
        temperature: float = 1.0,
        top_k: int = 250,
        top_p: float = 0.0,
        cfg_coef: float = 3.0,
        seed: int | None = None,
        prompt_audio: torch.Tensor | np.ndarray | None = None,
        prompt_sample_rate: int | None = None,
        progress: Callable[[StepInfo], None] | None = None,
    ) -> Generation:
        """Generate `seconds` of new audio per text. Row b samples with seed + b (random seed if None).

        With prompt_audio ([C, N] shared by all rows, or [B, C, N]), the result continues it: codes and audio hold
        the prompt's frames followed by the new ones. Guidance (a doubled batch) is used when cfg_coef != 1."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            raise LoopgenError("at least one prompt text is needed")
        params = SamplingParams(temperature, top_k, top_p, cfg_coef).validate()
        prompt = self.prompt_codes(prompt_audio, prompt_sample_rate, len(texts))
        p = 0 if prompt is None else prompt.shape[-1]
        frames = p + self.frames_for(seconds, p)
        seq = None
        for seq, _ in self.generate_steps(texts, frames, params, seed, prompt, progress):
            pass
        assert seq is not None
        codes = undelay(seq, frames, self.cfg.lm.delays)
        return Generation(codes=codes, audio=self.decode(codes), sample_rate=self.sample_rate, prompt_frames=p)

    @torch.inference_mode()
    def generate_steps(
        self,
        texts: list[str],
        frames: int,
        params: SamplingParams,
        seed: int | None = None,
        prompt: torch.Tensor | None = None,
        progress: Callable[[StepInfo], None] | None = None,
    ) -> Iterator[tuple[torch.Tensor, int]]:
        """Step the LM; after each step yield (seq [B, K, cols], columns written). See `delay` for the layout.

        prompt: [B, K, P] codes teacher-forced as the first P frames (P < frames)."""
        b = len(texts)
        lm = self.lm
        delays = self.cfg.lm.delays
        guided = params.cfg_coef != 1.0
        seeds = [int(torch.seed()) if seed is None else seed + i for i in range(b)]
        gens = make_generators(seeds, self.device)

        forced = forced_columns(prompt, b, frames, delays, self.cfg.lm.card, self.device)  # [B, K, cols]
        cols = forced.shape[-1]
        seq = forced.clone()
        p = 0 if prompt is None else prompt.shape[-1]
        start_cols = p + 1  # columns 0..p are fully known (start token + prompt frames of codebook 0)
        seq[:, :, :start_cols] = forced[:, :, :start_cols]

        states, mask = self.encode_text(texts, guided)
        cache = lm.new_cache(states.shape[0], cols - 1)
        lm.set_condition(cache, states, mask)

        total = cols - start_cols
        tokens = seq[:, :, :start_cols]
        for step in range(total):
            inp = torch.cat([tokens, tokens]) if guided else tokens
            logits = lm(inp, cache)[:, -1]  # [B', K, card]
            if guided:
                logits = guide(logits, params.cfg_coef)
            chosen = sample(logits, params, gens)  # [B, K]
            col = start_cols + step
            want = forced[:, :, col]
            seq[:, :, col] = torch.where(want == -1, chosen, want)
            tokens = seq[:, :, col : col + 1]
            if progress is not None:
                progress(StepInfo(step + 1, total))
            yield seq, col + 1
