"""MAGNeT in the streaming layer: a generation made segment by segment, a `types.Stream` like MusicGen's Session (so
takes, loops, `stream` and the daemon use it unchanged) and a `types.Stepper` that interleaves many, one decoding
pass per step.

A segment's frames all complete together, after its last pass: audio arrives a segment at a time. Past one segment
the last half segment is the fixed prompt of the next (as `Magnet.generate`), so long and endless streams work.
Live changes (parameters, prompts) apply from the next segment: the text is a condition of a whole segment.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch

from ..errors import LoopgenError
from ..models.magnet import Decoding, Magnet
from ..models.sampling import check_seed
from ..params import MagnetParams, magnet_changes, magnet_values
from .types import Frame, Stream, given_values, normalize_prompts


def magnet_params(m: Magnet, given: Mapping[str, float]) -> MagnetParams:
    """A request's given sampling values (request names) laid over the model's own decoding defaults, checked in
    MAGNeT's ranges."""
    return m.options(**magnet_changes(dict(given)))


class SegmentSession:
    """seconds: new audio (None = endless); prompt_codes [B, K, P]: codes to continue (their last half segment is
    used). params: the sampling values given, in request names (temperature, top_k, top_p, cfg_coef: MAGNeT's
    max_cfg_coef), laid over the model's own decoding defaults. Always guided (MAGNeT anneals its guidance). Step it
    in a `SegmentBatch` (or alone: `step()`, iteration)."""

    def __init__(self, m: Magnet, prompts: str | list, params: Mapping[str, float] | None = None,
                 seed: int | None = None, seconds: float | None = None, prompt_codes: torch.Tensor | None = None):
        self.m = m
        self.rows = self._texts(prompts)
        self.given = given_values(params)
        self.options = magnet_params(m, self.given)
        self.seed = check_seed(seed)
        self.keep = m.max_frames // 2  # frames of context a later segment starts from
        b = len(self.rows)
        if prompt_codes is not None:
            if prompt_codes.shape[:2] != (b, m.num_codebooks):
                raise LoopgenError(f"prompt codes must be [{b}, {m.num_codebooks}, P], got {tuple(prompt_codes.shape)}")
            prompt_codes = prompt_codes[..., -self.keep :]
        p0 = 0 if prompt_codes is None else prompt_codes.shape[-1]
        if seconds is not None and not seconds > 0:
            raise LoopgenError(f"seconds must be > 0, got {seconds}")
        self.end = None if seconds is None else p0 + max(1, round(seconds * m.frame_rate))
        self.history = prompt_codes if prompt_codes is not None else torch.empty(
            b, m.num_codebooks, 0, dtype=torch.long, device=m.device)
        self.next_frame = self.first_frame = p0
        self.cancelled = False
        self.batch = None
        self.ticks = 0
        self.cache = None  # the texts' condition, made again after set_prompts
        self.decoding: Decoding | None = None
        self.passes = 0  # decoding passes made, over every segment
        self._passes_before = 0  # passes made before the current segment
        self._ready: list[Frame] = []  # frames of a finished segment not yet returned by `step()` (stepped alone)

    @staticmethod
    def _texts(prompts: str | list) -> list[tuple[tuple[str, float], ...]]:
        rows = normalize_prompts(prompts)
        if any(len(r) != 1 for r in rows):
            raise LoopgenError("MAGNeT takes one text per row (weighted prompt mixes need MusicGen)")
        return rows

    # -- live control: from the next segment ------------------------------------------------------------------
    @property
    def params(self) -> MagnetParams:
        return self.options

    @property
    def sampling(self) -> dict[str, float]:
        return magnet_values(self.options)

    @property
    def total_frames(self) -> int | None:
        return self.end

    def set_params(self, **changes: float) -> None:
        given = {**self.given, **changes}
        self.options = magnet_params(self.m, given)  # checked in MAGNeT's ranges before anything changes
        self.given = given

    def set_melody(self, melody: list[torch.Tensor | None]) -> None:
        raise self.m.no_melody()  # MAGNeT is conditioned by text only

    def set_prompts(self, prompts: str | list) -> None:
        rows = self._texts(prompts)
        if len(rows) != len(self.rows):
            raise LoopgenError(f"this session has {len(self.rows)} row(s), got prompts for {len(rows)}")
        self.rows, self.cache = rows, None

    def cancel(self) -> None:
        self.cancelled = True

    @property
    def done(self) -> bool:
        return self.cancelled or (self.end is not None and self.next_frame >= self.end)

    @property
    def passes_per_segment(self) -> int:
        return sum(self.options.decoding_steps)

    @property
    def progress_frames(self) -> int:
        """New frames made, counting the current segment's passes as a share of its frames (for progress reports)."""
        d, made = self.decoding, self.next_frame - self.first_frame
        if d is None:
            return made
        return made + (d.frames - d.prompt_frames) * (d.draws - self._passes_before) // self.passes_per_segment

    # -- stepping --------------------------------------------------------------------------------------------------
    def step(self) -> Frame | None:
        """Stepped alone: one decoding pass, and the next frame made, or None (a segment's frames all complete at
        its last pass; they are returned one per call, without a pass, until none is left)."""
        if self._ready:
            return self._ready.pop(0)
        if self.batch is None:
            SegmentBatch(self.m, [self])
        elif len(self.batch.sessions) > 1:
            raise LoopgenError("this session shares a batch: step the batch")
        self._ready = [f for _, f in self.batch.step()]
        return self._ready.pop(0) if self._ready else None

    def __iter__(self):
        while not self.done or self._ready:
            f = self.step()
            if f is not None:
                yield f

    # -- the batch protocol ----------------------------------------------------------------------------------------
    def prepare(self) -> Decoding | None:
        """Before a pass: the segment being decoded, opening the next one when none is (None when done)."""
        self.ticks += 1
        if self.done:
            return None
        if self.decoding is None:
            if self.cache is None:
                self.cache = self.m.condition([r[0][0] for r in self.rows])
            have = self.history.shape[-1]
            ctx = self.history[..., -self.keep :] if have else None
            c = 0 if ctx is None else ctx.shape[-1]
            seg = self.m.max_frames
            frames = seg if self.end is None else min(seg, c + self.end - self.next_frame)
            self._passes_before = self.passes
            self.decoding = self.m.start(len(self.rows), frames, ctx, self.options, self.seed, draws=self.passes)
        return self.decoding

    def collect(self) -> list[Frame]:
        """After a pass: the new frames of a segment that just finished."""
        d = self.decoding
        self.passes = d.draws
        if not d.done:
            return []
        self.decoding = None
        new = d.result[..., d.prompt_frames :]
        self.history = torch.cat([self.history, new], dim=-1)[..., -self.m.max_frames :]
        prompts = tuple(tuple(r) for r in self.rows)
        out = []
        for j in range(new.shape[-1]):
            if self.end is not None and self.next_frame >= self.end:
                break
            out.append(Frame(self.next_frame, new[..., j], prompts, self.options))
            self.next_frame += 1
        return out


class SegmentBatch:
    """Steps MAGNeT sessions together: each step is one decoding pass of every running session, their forward passes
    batched where their segment lengths agree. The same surface as `Batch`."""

    def __init__(self, m: Magnet, sessions: list = (), prefill_chunk: int | None = None,
                 compile: bool | str | None = None, graphs: bool = False):
        """prefill_chunk, compile, graphs: the stepper interface's; a pass is a whole segment (nothing to prefill
        in chunks) and is not compiled or captured."""
        self.m = m
        self.sessions: list[SegmentSession] = []
        self.failed: list[tuple[Stream, Exception]] = []
        for s in sessions:
            self.add(s)

    def add(self, s: SegmentSession) -> None:
        if s.batch is self:
            return
        if s.batch is not None:
            s.batch.sessions.remove(s)
        s.batch = self
        self.sessions.append(s)

    def remove(self, s: SegmentSession) -> None:
        self.sessions.remove(s)
        s.batch = None

    @torch.inference_mode()
    def step(self) -> list[tuple[SegmentSession, Frame]]:
        for s in [s for s in self.sessions if s.done]:
            self.remove(s)
        work = []
        for s in list(self.sessions):
            try:
                d = s.prepare()
            except Exception as e:  # this session's own work (its text) failed: it ends, the rest go on
                self.remove(s)
                s.cancel()
                self.failed.append((s, e))
                continue
            if d is not None:
                work.append((s, d))
        if not work:
            return []
        self.m.passes([(d, s.cache) for s, d in work])
        return [(s, f) for s, _ in work for f in s.collect()]
