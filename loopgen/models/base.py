"""What every model family shares: T5 text conditioning (+ projection), the LM's weights, EnCodec, and the
facts and codec calls built on them. MusicGen (autoregressive, one token per step) and MAGNeT (masked, whole segments
per pass) are siblings on this base; streaming picks a family's sessions and steppers by `family`, never by type."""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import LoopgenError
from .audio import prepare_audio
from .config import MusicgenConfig
from .encodec import Encodec
from .lm import MusicgenLM, cpu_kernel
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


class CodecLM(nn.Module):
    """A text-conditioned language model over EnCodec codes. Texts are encoded by T5 (float32), the LM runs in the
    chosen dtype, and the codec runs in float32."""

    family = ""  # "musicgen" | "magnet": the table streaming picks sessions and steppers from
    prefixed = False  # True: conditioned by a prefix of the sequence (melody), not by cross-attention

    def __init__(self, cfg: MusicgenConfig, tokenizer: TextTokenizer, name: str = "model"):
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
    def dtype_name(self) -> str:
        """The precision it was loaded in, as load_model names it ("int8" for int8 weights, float activations)."""
        return "int8" if self.lm.int8 else str(self.dtype).removeprefix("torch.")

    @property
    def smallest(self) -> bool:
        """No released model is smaller than this one (LMConfig.smallest)."""
        return self.cfg.lm.smallest

    kernels: dict[str, str] = {}  # the CPU matmul per float dtype it runs (use_kernels); none before it

    def use_kernels(self, given: Mapping[str, str] | None = None) -> dict[str, str]:
        """Fix, once, at load, the CPU matmul each of its float parts runs (kernels.py measures the fastest here at
        the current thread count): the LM's per-step projections (a MusicGen's in float32 or bfloat16; MAGNeT's wide
        passes keep the plain layout) and the codec's streaming step matrices (float32; an int8 model's are int8).
        given: a take's record of them, by dtype name, taken where this build runs them. -> the choices (also
        `self.kernels`), which a take records: their last bits differ, and a choice made again later (another
        thread count, kernels.json measured afresh) could differ from the one a take was made with."""
        given = given or {}
        chosen: dict[str, str] = {}
        if self.device.type != "cpu":
            self.kernels = chosen
            return chosen
        if self.family == "musicgen" and not self.lm.int8:
            kernel = cpu_kernel(self.dtype, given.get(self.dtype_name))
            if kernel is not None:
                self.lm.pack(kernel)
                chosen[self.dtype_name] = self.lm.heads.kernel or kernel
        if not self.lm.int8:  # an int8 model streams its codec in int8 (SEANetDecoder.quantize_steps)
            kernel = cpu_kernel(torch.float32, given.get("float32") or chosen.get("float32"))
            self.codec.decoder.use_matmul(kernel)
            chosen.setdefault("float32", kernel)
        self.kernels = chosen
        return chosen

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
        wav = self.codec.decode(self.per_channel(codes))
        return wav.view(codes.shape[0], self.channels, -1)

    def per_channel(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [B, K, t] -> [B * C, K / C, t] on the model's device: a stereo model's interleaved codebooks
        [L0, R0, L1, R1, ...] split per channel for the codec (mono: unchanged)."""
        b, k, t = codes.shape
        c = self.channels
        return codes.to(self.device).view(b, k // c, c, t).transpose(1, 2).reshape(b * c, k // c, t)

    # -- generation ----------------------------------------------------------------------------------------------
    def prompt_codes(self, audio: torch.Tensor | np.ndarray | None, sample_rate: int | None,
                     rows: int) -> torch.Tensor | None:
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

    def melodies(self, melody, sample_rate: int | None, rows: int) -> tuple[list[torch.Tensor | None], str | None]:
        """Melody audio for `rows` rows (see `generate`) -> (one-hot chroma [T, 12] or None per row, how it was
        made). This model takes no melody: anything but None is refused."""
        if melody is None:
            return [None] * rows, None
        raise self.no_melody()

    def no_melody(self) -> LoopgenError:
        """The one error for a melody given to a model without melody conditioning."""
        return LoopgenError(f"{self.name} takes no melody: use a melody model (facebook/musicgen-melody)")
