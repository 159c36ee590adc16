"""A generation session: the caller steps the model one step at a time and gets each frame the moment it is complete.

A session is B voices of the model's one engine (`models.engine`) that advance in lockstep (one per prompt row),
each with its own weighted prompts and seed (row b: seed + b, as `MusicGen.generate`), so a session reproduces
generate. What a session adds is windows and steering: it runs in windows of the model's training length, and when a
window is full it re-primes from its own tail (the last `window - stride` seconds, audiocraft's 30 s / 18 s by
default), reusing the same KV cache, so a stream with `seconds=None` never ends. Sampling parameters and prompts can
change between any two steps and apply to the next.

A melody model is conditioned by a prefix (the melody's chroma and the text) that the whole window's history was
computed under, so its new prompts or melody open a new window at once: re-primed from the stream's own tail (up to
`window - stride` seconds) under the new prefix; frames go on from where they were.

A session is passive: a stepper (`batch.EngineBatch`: its own private one when you call `step()`) drives it through
`join`, `prepare` and `collect`; it joins the stepper's engine when it first steps or is added.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from ..errors import LoopgenError
from ..models.engine import Engine, Voice
from ..models.musicgen import MusicGen
from ..models.sampling import check_seed
from ..params import SamplingParams, musicgen_sampling
from .batch import EngineBatch
from .types import Frame, given_values, normalize_prompts

__all__ = ["Frame", "Session", "normalize_prompts", "window_frames"]

@dataclass(frozen=True)
class WindowState:
    """Where a session is, beside the frames it made: all a fresh session needs to go on exactly as it (`resume`).
    w0: the current window's first stream frame; p: its prompt frames; drawn: the draws made before it opened;
    rows: the prompts when it opened; switches: each live prompt change in it, as (KV positions it applied from, the
    prompts from there)."""

    w0: int
    p: int
    drawn: int
    rows: tuple = ()
    switches: tuple = ()


def window_frames(m: MusicGen, window_seconds: float | None = None, stride_seconds: float = 18.0) -> tuple[int, int]:
    """(frames per window, frames of context a window is re-primed with)."""
    win = m.max_frames if window_seconds is None else int(round(window_seconds * m.frame_rate))
    if not 2 <= win <= m.max_frames:
        raise LoopgenError(f"window must be between 2 frames and {m.max_frames / m.frame_rate:g} s")
    stride = min(win - 1, max(1, int(round(stride_seconds * m.frame_rate))))
    return win, win - stride


class Session:
    """Step-by-step generation. `step()` runs one model step and returns the frame it completed, or None.

    seconds: new audio to make (None = endless). prompt_codes: [B, K, P] codes to continue (see MusicGen.encode).
    window_seconds / stride_seconds: the sliding window (defaults: the model's 30 s window, 18 s stride).
    guided: keep an unconditional row per voice so cfg_coef can be steered live (default: only when cfg_coef != 1).
    melody (a melody model): per row, a one-hot chroma [T, 12] or None (see `MusicgenMelody.melodies`)."""

    def __init__(
        self,
        m: MusicGen,
        prompts: str | list,
        params: SamplingParams | Mapping[str, float] | None = None,
        seed: int | None = None,
        seconds: float | None = None,
        prompt_codes: torch.Tensor | None = None,
        window_seconds: float | None = None,
        stride_seconds: float = 18.0,
        guided: bool | None = None,
        melody: list[torch.Tensor | None] | None = None,
    ):
        self.m = m
        self.rows = normalize_prompts(prompts)
        b = len(self.rows)
        self.melody = self._melody(melody)
        self.params = musicgen_sampling(given_values(params))  # a SamplingParams counts as every value given
        self.guided = self.params.cfg_coef != 1.0 if guided is None else bool(guided)
        if self.params.cfg_coef != 1.0 and not self.guided:
            raise LoopgenError("cfg_coef != 1 needs guidance: leave guided unset or True")
        self.seed = check_seed(seed)
        self.depth = max(m.cfg.lm.delays)
        self.window, self.context = window_frames(m, window_seconds, stride_seconds)
        win = self.window
        p0 = 0 if prompt_codes is None else prompt_codes.shape[-1]
        if prompt_codes is not None and prompt_codes.shape[:2] != (b, m.num_codebooks):
            raise LoopgenError(f"prompt codes must be [{b}, {m.num_codebooks}, P], got {tuple(prompt_codes.shape)}")
        if seconds is not None and not seconds > 0:
            raise LoopgenError(f"seconds must be > 0, got {seconds}")
        if p0 >= win:  # keep only what one window can hold as context
            prompt_codes, p0 = prompt_codes[..., -self.context :], self.context
        self.end = None if seconds is None else p0 + max(1, int(round(seconds * m.frame_rate)))  # exclusive
        # the latest frames (prompt included): the next window's context
        self.history = prompt_codes if prompt_codes is not None else torch.empty(b, m.num_codebooks, 0, dtype=torch.long, device=m.device)
        self.next_frame = self.first_frame = p0  # stream index of the next frame to complete; of the first new one
        self.cancelled = False
        self.batch = None  # the Batch that steps this session
        self.engine: Engine | None = None
        self.voices: list[Voice] = []
        self.p = p0  # prompt frames of the current window
        self.w0 = 0  # stream index of the current window's frame 0
        self.frames = 0  # frames of the current window
        self.ticks = 0  # times a Batch has stepped this session: its own clock, the same alone or batched
        self._stepped = False
        self._reprime = False  # a melody model's conditioning changed: open a new window at the next step
        self.drawn = 0  # columns its voices have chosen (the engine's draw counter, mirrored on the host)
        self.window_drawn = 0  # ... when the current window opened
        self._resume: tuple | None = None  # (window codes, WindowState): the window to open at join (`resume`)
        self._open_rows: tuple = ()  # the prompts when the current window opened
        self._switches: list = []  # (KV position, prompts) of each prompt change in the current window
        self._pending: list = []  # switches of a resumed window still to apply as its positions are fed again
        self.window_changes = 0  # how often `window_state` has changed (a new window, a prompt switch)

    # -- live control --------------------------------------------------------------------------------------------
    def set_params(self, **changes) -> None:
        """temperature, top_k, top_p, cfg_coef: applied from the next step."""
        params = self.params.replace(**changes)
        if params.cfg_coef != 1.0 and not self.guided:
            raise LoopgenError("this session has no guidance (started with cfg_coef 1): start it with guided=True")
        self.params = params
        for v in self.voices:
            self.engine.set_params(v, params)

    def set_prompts(self, prompts: str | list) -> None:
        """New (weighted) prompts for every row, from the next step: the text is re-encoded and the cross-attention
        keys/values swapped; the self-attention history is kept, so the music morphs without a restart."""
        rows = normalize_prompts(prompts)
        if len(rows) != len(self.rows):
            raise LoopgenError(f"this session has {len(self.rows)} row(s), got prompts for {len(rows)}")
        self.rows = rows
        for v, row in zip(self.voices, rows):
            self.engine.set_prompts(v, row)
        self._reprime = self.m.prefixed and bool(self.voices)
        if self.voices and not self.m.prefixed:  # from the next position fed (a prefix model opens a new window)
            self._switches.append((self.voices[0].fed, _frozen(rows)))
            self.window_changes += 1

    def set_melody(self, melody: list[torch.Tensor | None]) -> None:
        """A melody model's new melody per row (one-hot chroma [T, 12] or None): from a new window opened at the
        next step (see the module docstring)."""
        self.melody = self._melody(melody)
        for v, chroma in zip(self.voices, self.melody):
            self.engine.set_melody(v, chroma)
        self._reprime = bool(self.voices)

    def _melody(self, melody: list[torch.Tensor | None] | None) -> list[torch.Tensor | None]:
        b = len(self.rows)
        if melody is None:
            return [None] * b
        if len(melody) != b:
            raise LoopgenError(f"this session has {b} row(s), got {len(melody)} melodies")
        if any(x is not None for x in melody) and not self.m.prefixed:
            raise self.m.no_melody()
        return list(melody)

    def cancel(self) -> None:
        self.cancelled = True
        for v in self.voices:
            self.engine.stop(v)

    @property
    def done(self) -> bool:
        return self.cancelled or (self.end is not None and self.next_frame >= self.end)

    @property
    def total_frames(self) -> int | None:
        return self.end

    @property
    def progress_frames(self) -> int:
        return self.next_frame - self.first_frame

    @property
    def sampling(self) -> dict[str, float]:
        return self.params.as_dict()

    @property
    def positions(self) -> int:
        """KV positions one window needs: a whole window for endless streams, less for a short finite one."""
        span = self.window if self.end is None else min(self.window, self.end)
        return span + self.depth

    # -- stepping ------------------------------------------------------------------------------------------------
    def step(self) -> Frame | None:
        """One model step. Returns the frame it completed, or None (filling the delay pattern, priming, or done)."""
        if self.batch is None:
            EngineBatch(self.m, [self])
        elif len(self.batch.sessions) > 1:
            raise LoopgenError("this session shares a batch: step the batch")
        if self.done:
            return None
        out = self.batch.step()
        return out[0][1] if out else None

    def __iter__(self):
        while not self.done:
            f = self.step()
            if f is not None:
                yield f

    # -- moving a stream to another process ----------------------------------------------------------------------
    @property
    def window_state(self) -> WindowState:
        """Where it is in its current window (see `WindowState`)."""
        return WindowState(self.w0, self.p, self.window_drawn, self._open_rows, tuple(self._switches))

    def resume(self, codes: torch.Tensor, state: WindowState, ticks: int) -> None:
        """Go on as a session that made `codes` [B, K, n] (its new frames, after this session's prompt) and was in
        `state` (`window_state`) at tick `ticks`: when it joins a stepper, its KV state is rebuilt by priming that
        window's frames under the prompts each position was fed with, and its draw counter goes on from where that
        session's was. The next frames are then the ones the other session would have made (the same codes, greedy
        or sampled). Call before it first steps, after applying the other session's live changes."""
        if self.engine is not None:
            raise LoopgenError("resume a session before it first steps")
        every = torch.cat([self.history, codes.to(self.history.device)], dim=-1)  # stream frames 0 .. f-1
        f = self.next_frame + codes.shape[-1]
        if not 0 <= state.w0 <= f or every.shape[-1] != f:
            raise LoopgenError(f"cannot resume at frame {f} in a window from frame {state.w0}")
        self.history = every[..., -(self.window - 1) :]
        self.next_frame = f
        self.ticks = ticks
        self._resume = (every[..., state.w0 : f], state)

    # -- driven by the stepper that holds the session (batch.EngineBatch) -------------------------------------------
    def join(self, engine: Engine) -> None:
        """Take voices in `engine`: fresh ones, or this session's moved from the engine it was in."""
        if self.engine is not None:
            self.voices = [engine.adopt(self.engine, v) for v in self.voices]
            self.engine = engine
        else:
            self.engine = engine
            window, state = self._resume if self._resume is not None else (None, None)
            rows = [list(r) for r in state.rows] if state is not None and state.rows else self.rows
            self.voices = [engine.add(row, self.params, self.seed + i, self.guided, self.positions, self.melody[i])
                           for i, row in enumerate(rows)]
            if state is None:
                self._start_window(self.history if self.history.shape[-1] else None)
            else:  # the window it was in, primed from its frames; its draws go on (column c drew at w + c - p - 1)
                self._resume = None
                self._start_window(window if window.shape[-1] else None)
                self._open_rows = _frozen(rows)
                self._pending = list(state.switches)  # its prompt changes, at the positions they applied from
                self.drawn = self.window_drawn = state.drawn + window.shape[-1] - state.p
                self.window_changes += 1
                for v in self.voices:
                    engine.set_draws(v, self.drawn)
        self._slots = torch.cat([v.slot_index for v in self.voices])  # [B] its voices' slots, on the device

    def leave(self) -> None:
        """Free this session's voices (a finished or cancelled session)."""
        for v in self.voices:
            self.engine.remove(v)
        self.voices = []

    def prepare(self, max_tokens: int | None = None) -> None:
        """Before a step: open the next window when this one is full, and prime (at most max_tokens columns)."""
        self._stepped = False
        self.ticks += 1
        if self.done:
            return
        v0 = self.voices[0]
        if v0.col >= v0.cols or self._reprime:  # window full, or a new prefix: re-prime from our own tail
            self._reprime = False
            self._start_window(self.history[..., -self.context :] if self.history.shape[-1] else None)
        self._switch()
        upto = self._pending[0][0] if self._pending else None
        ready = [self.engine.prime(v, max_tokens, upto) for v in self.voices]
        self._switch()
        self._stepped = all(ready)

    def _switch(self) -> None:
        """A resumed window: apply the prompt changes whose positions it has fed again (as the other session did)."""
        while self._pending and self._pending[0][0] <= self.voices[0].fed:
            fed, rows = self._pending.pop(0)
            for v, row in zip(self.voices, rows):
                self.engine.set_prompts(v, [tuple(x) for x in row])
            self._switches.append((fed, rows))
            self.window_changes += 1

    def collect(self, codes: torch.Tensor) -> Frame | None:
        """After a step: codes [slots, K] from Engine.step -> the frame this session completed, or None."""
        if not self._stepped:
            return None
        self.drawn += 1  # its live voices chose a column (engine_step counts the same on the device)
        local = self.engine.completed(self.voices[0])
        if local is None or local < self.p or local >= self.frames:
            return None
        frame = codes.index_select(0, self._slots)  # [B, K]
        self.history = torch.cat([self.history[..., -(self.window - 1) :], frame[..., None]], dim=-1)
        out = Frame(self.next_frame, frame, tuple(tuple(r) for r in self.rows), self.params)
        self.next_frame += 1
        if self.done:
            for v in self.voices:
                self.engine.stop(v)
        return out

    def _start_window(self, prompt: torch.Tensor | None) -> None:
        """Open a window whose first frames are `prompt` [B, K, P] (teacher-forced)."""
        self.p = 0 if prompt is None else prompt.shape[-1]
        self.w0 = self.next_frame - self.p
        self.window_drawn = self.drawn
        self._open_rows, self._switches, self._pending = _frozen(self.rows), [], []
        self.window_changes += 1
        remaining = None if self.end is None else self.end - self.w0
        self.frames = self.window if remaining is None else min(self.window, remaining)
        for i, v in enumerate(self.voices):
            self.engine.start_window(v, None if prompt is None else prompt[i], self.frames)


def _frozen(rows) -> tuple:
    """Prompts per row as nested tuples (a value a window state can hold and send)."""
    return tuple(tuple((str(t), float(w)) for t, w in row) for row in rows)
