"""musicgen-melody (mono and stereo): MusicGen whose LM has no cross-attention. The conditioning is a prefix of the
sequence: the melody's one-hot chroma, projected to the LM width and tiled or cut to `chroma_length` frames, then the
projected text states (padding zeroed, as transformers does). No melody is the chroma of bin 0 everywhere; the
unconditional row of guidance gets that null chroma and zero text of the same length.

The engine puts the prefix at KV positions 0..P-1 of each of a voice's rows and its window's columns after it
(`Voice.offset`), so generation, sessions, batches and windows are MusicGen's. A row's prefix is its own text's
length: transformers, given a batch of texts of unequal token counts, pads the shorter ones with zero states that are
attended, so a shorter text's row in such a batch differs from that text alone; loopgen gives every row what it
would get alone.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..errors import LoopgenError
from .chroma import Chroma
from .config import MelodyConfig
from .musicgen import MusicGen
from .stems import RAW, STEMS, melody_stems
from .t5 import TextTokenizer


class MusicgenMelody(MusicGen):
    prefixed = True

    def __init__(self, cfg: MelodyConfig, tokenizer: TextTokenizer, name: str = "musicgen-melody"):
        super().__init__(cfg, tokenizer, name)
        self.chroma_proj = nn.Linear(cfg.num_chroma, cfg.lm.dim)  # transformers' audio_enc_to_dec_proj
        self.chroma = Chroma(cfg.audio.sampling_rate, cfg.n_fft, cfg.chroma_hop, cfg.num_chroma, cfg.chroma_seconds)

    @property
    def max_frames(self) -> int:
        """A window's frames: the training window, or fewer if the chroma prefix leaves too few positions."""
        cfg = self.cfg
        by_window = int(round(cfg.max_seconds * self.frame_rate))
        return min(by_window, cfg.lm.max_positions - max(cfg.lm.delays) - 1 - cfg.chroma_length)

    # -- the melody --------------------------------------------------------------------------------------------
    def melody_chroma(self, wav: torch.Tensor | np.ndarray, sample_rate: int, stems: bool | None = None
                      ) -> tuple[torch.Tensor, str]:
        """One melody (any rate and channel count, [N] or [C, N]) -> (one-hot chroma [T, 12], how it was made).

        stems: None separates with Demucs when it is installed (audiocraft's way), else uses the raw audio
        (transformers' way); False always the raw audio; True requires Demucs."""
        if stems is not False:  # Demucs sees what the chroma uses: its first 30 s and a second (both paths alike)
            mix = melody_stems(self.chroma.used(wav, sample_rate), sample_rate, self.chroma.sample_rate)
            if mix is not None:
                return self.chroma.onehot(mix[0, 0, : self.chroma.max_samples].float().cpu()), STEMS
            if stems:
                from .stems import separator

                raise LoopgenError(f"stem separation was asked for, but {separator()[1]}")
        return self.chroma(wav, sample_rate), RAW

    def melodies(self, melody, sample_rate: int | None, rows: int, stems: bool | None = None
                 ) -> tuple[list[torch.Tensor | None], str | None]:
        """Melody audio for `rows` rows -> (one-hot chroma or None per row, how the chroma was made).

        melody: None; one audio ([N] or [C, N]) for every row; [B, C, N] (B = rows); or a list of one audio or
        None per row. All at `sample_rate`."""
        if melody is None:
            return [None] * rows, None
        if sample_rate is None:
            raise LoopgenError("melody_sample_rate is required with a melody")
        if isinstance(melody, (list, tuple)):
            if len(melody) != rows:
                raise LoopgenError(f"{len(melody)} melodies for {rows} prompts (give one per prompt, or None)")
            per_row = list(melody)
        else:
            t = melody if isinstance(melody, torch.Tensor) else torch.as_tensor(np.asarray(melody))
            if t.dim() == 3 and t.shape[0] != 1:
                if t.shape[0] != rows:
                    raise LoopgenError(f"{t.shape[0]} melodies for {rows} prompts")
                per_row = list(t)
            else:
                per_row = [t[0] if t.dim() == 3 else t] * rows
        done: dict[int, tuple[torch.Tensor, str]] = {}  # the same audio object is analysed once
        out, how = [], set()
        for wav in per_row:
            if wav is None:
                out.append(None)
                continue
            if id(wav) not in done:
                done[id(wav)] = self.melody_chroma(wav, sample_rate, stems)
            chroma, h = done[id(wav)]
            out.append(chroma)
            how.add(h)
        return out, ", ".join(sorted(how)) or None

    # -- the prefix --------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def prefix(self, texts: list[str], chroma: torch.Tensor | None, guided: bool) -> torch.Tensor:
        """The conditioning prefix of one voice's LM rows: one row per text (texts padded to the longest with zero
        states) and, when guided, an unconditional row (null chroma, zero text). chroma: one-hot [T, 12] or None.
        -> [n(+1), chroma_length + S, dim] in the LM's dtype."""
        cfg = self.cfg
        states, _ = self.encode_text(texts, guided=False)  # [n, S, D], padding zeroed
        if guided:  # the unconditional row: zero text of the same length
            states = torch.cat([states, states.new_zeros(1, *states.shape[1:])])
        null = torch.zeros(1, cfg.num_chroma, device=self.device)
        null[:, 0] = 1.0
        melody = null if chroma is None else chroma.to(self.device, torch.float32)
        if melody.dim() != 2 or melody.shape[-1] != cfg.num_chroma or melody.shape[0] == 0:
            raise LoopgenError(f"a chroma is [T, {cfg.num_chroma}], got {tuple(melody.shape)}")
        rows = [self._tiled(melody)] * len(texts) + ([self._tiled(null)] if guided else [])
        audio = torch.stack(rows)  # [n(+1), chroma_length, D]
        return torch.cat([audio, states.to(audio.dtype)], dim=1).to(self.dtype)

    def _tiled(self, chroma: torch.Tensor) -> torch.Tensor:
        """[T, 12] -> projected and repeated (or cut) to [chroma_length, D], as transformers does."""
        x = self.chroma_proj(chroma)
        n = self.cfg.chroma_length
        return x.repeat(math.ceil(n / x.shape[0]), 1)[:n]
