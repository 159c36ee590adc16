"""A generation session: the caller steps the model one step at a time and gets each frame the moment it is complete.

A session holds B rows that advance in lockstep (one per prompt row), each with its own weighted prompts and seed.
It runs in windows of the model's training length: when a window is full it re-primes from its own tail (the last
`window - stride` seconds, audiocraft's 30 s / 18 s by default), reusing the same KV cache, so a stream with
`seconds=None` never ends. Sampling parameters and prompts can change between any two steps and apply to the next.

Row layout in the LM batch: the cond rows of row 0 (one per weighted prompt), of row 1, ..., then one unconditional
row per row. With one prompt per row this is exactly `MusicGen.generate`'s layout, so a session reproduces it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ..errors import LoopgenError
from ..models.delay import forced_columns, frame_at
from ..models.musicgen import MusicGen
from ..models.sampling import SamplingParams, make_generators, sample

WeightedPrompts = list[tuple[str, float]]


@dataclass(frozen=True)
class Frame:
    """One EnCodec frame of every row, all K codebooks, delay undone."""

    index: int  # frame position in the stream (a continuation's prompt frames come first)
    codes: torch.Tensor  # [B, K]
    prompts: tuple[tuple[tuple[str, float], ...], ...]  # per row, the weighted prompts that produced it
    params: SamplingParams  # the sampling parameters of the step that completed it


def normalize_prompts(prompts: str | list) -> list[WeightedPrompts]:
    """'text' | [text, ...] | [[(text, w), ...], ...] -> per row [(text, weight), ...] with weights > 0."""
    if isinstance(prompts, str):
        prompts = [prompts]
    if not isinstance(prompts, (list, tuple)) or not prompts:
        raise LoopgenError("prompts must be a text or a non-empty list")
    rows: list[WeightedPrompts] = []
    for row in prompts:
        if isinstance(row, str):
            row = [(row, 1.0)]
        items = []
        for item in row:
            if not (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str)):
                raise LoopgenError(f"a weighted prompt is (text, weight), got {item!r}")
            w = float(item[1])
            if not w >= 0:
                raise LoopgenError(f"prompt weights must be >= 0, got {w}")
            items.append((item[0], w))
        if not items or sum(w for _, w in items) <= 0:
            raise LoopgenError("each row needs at least one prompt with a positive weight")
        rows.append(items)
    return rows


class Session:
    """Step-by-step generation. `step()` runs one model step and returns the frame it completed, or None.

    seconds: new audio to make (None = endless). prompt_codes: [B, K, P] codes to continue (see MusicGen.encode).
    window_seconds / stride_seconds: the sliding window (defaults: the model's 30 s window, 18 s stride)."""

    def __init__(
        self,
        m: MusicGen,
        prompts: str | list,
        params: SamplingParams | None = None,
        seed: int | None = None,
        seconds: float | None = None,
        prompt_codes: torch.Tensor | None = None,
        window_seconds: float | None = None,
        stride_seconds: float = 18.0,
    ):
        self.m = m
        self.rows = normalize_prompts(prompts)
        b = len(self.rows)
        self.params = (params or SamplingParams()).validate()
        self.delays = m.cfg.lm.delays
        self.depth = max(self.delays)
        win = m.max_frames if window_seconds is None else int(round(window_seconds * m.frame_rate))
        if not 2 <= win <= m.max_frames:
            raise LoopgenError(f"window must be between 2 frames and {m.max_frames / m.frame_rate:g} s")
        self.window = win
        stride = min(win - 1, max(1, int(round(stride_seconds * m.frame_rate))))
        self.context = win - stride  # frames kept as the prompt of the next window
        p0 = 0 if prompt_codes is None else prompt_codes.shape[-1]
        if prompt_codes is not None and prompt_codes.shape[:2] != (b, m.num_codebooks):
            raise LoopgenError(f"prompt codes must be [{b}, {m.num_codebooks}, P], got {tuple(prompt_codes.shape)}")
        if seconds is not None and not seconds > 0:
            raise LoopgenError(f"seconds must be > 0, got {seconds}")
        if p0 >= win:  # keep only what one window can hold as context
            prompt_codes, p0 = prompt_codes[..., -self.context :], self.context
        self.end = None if seconds is None else p0 + max(1, int(round(seconds * m.frame_rate)))  # exclusive
        seeds = [int(torch.seed()) if seed is None else seed + i for i in range(b)]
        self.gens = make_generators(seeds, m.device)
        # positions one window needs: a whole window for endless streams, less for a short finite one
        span = win if self.end is None else min(win, self.end)
        self.cache = m.lm.new_cache(self._num_lm_rows(), span + self.depth)
        self.lm_rows = slice(0, self._num_lm_rows())  # this session's rows in `cache` (a Batch may share it)
        self.batch = None
        self._condition()
        # the latest frames (prompt included): the next window's context
        self.history = prompt_codes if prompt_codes is not None else torch.empty(b, m.num_codebooks, 0, dtype=torch.long, device=m.device)
        self.next_frame = p0  # stream index of the next frame to complete
        self.cancelled = False
        self._start_window(prompt_codes)

    # -- live control --------------------------------------------------------------------------------------------
    def set_params(self, **changes) -> None:
        """temperature, top_k, top_p, cfg_coef: applied from the next step."""
        unknown = set(changes) - {"temperature", "top_k", "top_p", "cfg_coef"}
        if unknown:
            raise LoopgenError(f"unknown sampling parameter(s): {', '.join(sorted(unknown))}")
        self.params = replace(self.params, **changes).validate()

    def set_prompts(self, prompts: str | list) -> None:
        """New (weighted) prompts for every row, from the next step: the text is re-encoded and the cross-attention
        keys/values swapped; the self-attention history is kept, so the music morphs without a restart."""
        rows = normalize_prompts(prompts)
        if len(rows) != len(self.rows):
            raise LoopgenError(f"this session has {len(self.rows)} row(s), got prompts for {len(rows)}")
        old = self._row_sources()
        old_count = self._num_lm_rows()
        self.rows = rows
        if self._num_lm_rows() != old_count:  # a row gained or lost prompts: regroup its history
            batch = self.batch
            if batch is not None:
                batch.remove(self)
            src = torch.tensor(self._remap(old), device=self.m.device)
            self.cache = self.cache.select(src)
            self.lm_rows = slice(0, self._num_lm_rows())
            if batch is not None:
                batch.add(self)
        self._condition()

    def cancel(self) -> None:
        self.cancelled = True

    @property
    def done(self) -> bool:
        return self.cancelled or (self.end is not None and self.next_frame >= self.end)

    # -- stepping ------------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def step(self) -> Frame | None:
        """One model step. Returns the frame it completed, or None (filling the delay pattern, or done)."""
        if self.done:
            return None
        logits = self.m.lm(self._prepare(), self.cache, rows=self.lm_rows)[:, -1]  # [R, K, card]
        return self._accept(logits)

    def _prepare(self, max_tokens: int | None = None) -> torch.Tensor:
        """The tokens of this step, [R, K, T]: the columns not yet fed. T > 1 at a window start (the known columns
        at once, or `max_tokens` of them per step, so a long prefill does not stall a batch)."""
        if self.col >= self.seq.shape[-1]:  # window full: re-prime from our own tail
            self._start_window(self.history[..., -self.context :])
        end = self.col if max_tokens is None else min(self.col, self.fed + max_tokens)
        self._feeding = end - self.fed
        return self._expand(self.seq[:, :, self.fed : end])

    def _accept(self, logits: torch.Tensor) -> Frame | None:
        """Choose this step's column from the LM rows' logits [R, K, card]; return the frame it completed.
        After a partial prefill (more known columns to feed) nothing is chosen yet."""
        self.fed += self._feeding
        if self.fed < self.col:
            return None
        chosen = sample(self._guide(logits), self.params, self.gens)  # [B, K]
        want = self.forced[:, :, self.col]
        self.seq[:, :, self.col] = torch.where(want == -1, chosen, want)
        self.col += 1
        local = self.col - 1 - self.depth - 1  # the frame whose last codebook was just written
        if local < self.p or local >= self.frames:
            return None
        codes = frame_at(self.seq, local, self.delays)
        self.history = torch.cat([self.history[..., -(self.window - 1) :], codes[..., None]], dim=-1)
        frame = Frame(self.next_frame, codes, tuple(tuple(r) for r in self.rows), self.params)
        self.next_frame += 1
        return frame

    def __iter__(self):
        while not self.done:
            f = self.step()
            if f is not None:
                yield f

    # -- internals -----------------------------------------------------------------------------------------------
    def _num_lm_rows(self) -> int:
        return sum(len(r) for r in self.rows) + len(self.rows)

    def _row_sources(self) -> list[int]:
        """For each LM row, the prompt row it belongs to (uncond rows last)."""
        out = [b for b, r in enumerate(self.rows) for _ in r]
        return out + list(range(len(self.rows)))

    def _remap(self, old_sources: list[int]) -> list[int]:
        """For each new LM row, the old LM row whose history it inherits (the first cond row of the same row)."""
        n_old_cond = len(old_sources) - len(self.rows)
        first_cond = {b: old_sources.index(b) for b in range(len(self.rows))}
        new = [first_cond[b] for b, r in enumerate(self.rows) for _ in r]
        return new + [n_old_cond + b for b in range(len(self.rows))]

    def _condition(self) -> None:
        texts = [t for r in self.rows for t, _ in r]
        states, mask = self.m.encode_text(texts, guided=False)
        b = len(self.rows)
        states = torch.cat([states, states.new_zeros(b, *states.shape[1:])])
        mask = torch.cat([mask, mask.new_zeros(b, mask.shape[1])])
        self.m.lm.set_condition(self.cache, states, mask, self.lm_rows)
        w = torch.tensor([wt / sum(x for _, x in r) for r in self.rows for _, wt in r], device=self.m.device)
        self._weights = w[:, None, None]  # [n_cond, 1, 1]
        self._groups = [len(r) for r in self.rows]

    def _expand(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens [B, K, T] -> [R, K, T] following the row layout."""
        if all(g == 1 for g in self._groups):
            return torch.cat([tokens, tokens])
        idx = torch.tensor(self._row_sources(), device=tokens.device)
        return tokens.index_select(0, idx)

    def _guide(self, logits: torch.Tensor) -> torch.Tensor:
        """[R, K, V] -> [B, K, V]: per row uncond + cfg * (weighted mean of its cond logits - uncond)."""
        b = len(self.rows)
        cond, uncond = logits[:-b], logits[-b:]
        if all(g == 1 for g in self._groups):
            mix = cond
        else:
            mix = torch.stack([part.sum(0) for part in (cond * self._weights).split(self._groups)])
        return uncond + self.params.cfg_coef * (mix - uncond)

    def _start_window(self, prompt: torch.Tensor | None) -> None:
        """Open a window whose frame 0 is stream frame w0 and whose first frames are `prompt` (teacher-forced)."""
        self.p = 0 if prompt is None else prompt.shape[-1]
        self.w0 = self.next_frame - self.p
        remaining = None if self.end is None else self.end - self.w0
        self.frames = self.window if remaining is None else min(self.window, remaining)
        self.forced = forced_columns(prompt, len(self.rows), self.frames, self.delays, self.m.cfg.lm.card, self.m.device)
        self.seq = self.forced.clone()
        self.col = self.p + 1  # columns 0..p are known; the first step feeds them all
        self.fed = 0  # columns fed to the LM in this window
        self.cache.reset(self.lm_rows)  # the same cache, overwritten from position 0
