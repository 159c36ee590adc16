"""MAGNeT: the non-autoregressive MusicGen. The same LM weights and layers, run without a causal mask or KV cache over
a whole segment of masked tokens, one codebook (stage) at a time; each pass re-masks the least confident spans.

Decoding follows audiocraft 1.3.0's `MagnetLMModel._generate_magnet` (tests compare logits, greedy codes and
continuations against audiocraft's recorded outputs). Differences, by design: sampled draws come from the seeded
counter hash of `sampling.uniforms` (a row's draws depend on its seed only, not on torch's RNG), and `seconds`
longer than a segment is made segment by segment, the tail of one segment the fixed prompt of the next.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import LoopgenError
from ..params import AUDIO_MAGNET, MagnetParams
from .config import MagnetConfig
from .lm import KVCache
from .base import CodecLM, Generation, StepInfo
from .sampling import check_seed, filter_logits, uniforms_at

KEEP = -1e4  # score of a span that must not be masked again (audiocraft's DONT_REMASK_ME_SCORE)
# audiocraft's names in a checkpoint's `generate.lm` section -> ours
_CFG_NAMES = {"temp": "temperature", "top_k": "top_k", "top_p": "top_p", "max_cfg_coef": "max_cfg_coef",
              "min_cfg_coef": "min_cfg_coef", "decoding_steps": "decoding_steps", "span_arrangement":
              "span_arrangement", "anneal_temp": "anneal_temp"}


@dataclass
class Decoding:
    """One segment being decoded, all its state explicit: `Magnet.mask`, a forward pass, `Magnet.unmask`, repeated
    until `done`. Rows: the texts of one request (their unconditional rows are added for the forward pass)."""

    grid: torch.Tensor  # [B, K, T] codes, id card = mask
    frames: int  # frames of the result (T may exceed it by the rounding to whole spans)
    prompt: torch.Tensor | None  # [B, K, P] fixed at the front
    p: MagnetParams
    seeds: torch.Tensor  # [B]
    stage: int = 0  # the codebook being decoded
    i: int = 0  # pass within the stage
    draws: int = 0  # passes made (the draw counter of the seeded noise)
    row: torch.Tensor | None = None  # [B, T] the stage's codes
    scores: torch.Tensor | None = None  # [B, chunks] or [B, T]: high = re-mask first
    chosen: torch.Tensor | None = None  # [B, chunks] spans masked this pass (nonoverlap)
    chunked: bool = True
    to_gen: int = 0
    times: torch.Tensor | None = None
    mask_p: torch.Tensor | None = None

    @property
    def prompt_frames(self) -> int:
        return 0 if self.prompt is None else self.prompt.shape[-1]

    @property
    def done(self) -> bool:
        return self.stage >= self.grid.shape[1]

    @property
    def result(self) -> torch.Tensor:
        return self.grid[..., : self.frames]


def merge_text(caches: list[KVCache]) -> KVCache:
    """The cross-attention K/V of several `Magnet.condition` caches as one, rows in order; a shorter text's extra
    positions are masked out (-inf), so each row attends exactly to what it attended to alone."""
    s = max(c.text for c in caches)
    l, _, h, _, dh = caches[0].cross_k.shape
    rows = sum(c.rows for c in caches)
    ref = caches[0].cross_k
    out = KVCache(k=ref.new_zeros(l, rows, h, 1, dh), v=ref.new_zeros(l, rows, h, 1, dh),
                  cross_k=ref.new_zeros(l, rows, h, s, dh), cross_v=ref.new_zeros(l, rows, h, s, dh),
                  cross_bias=ref.new_full((rows, 1, 1, s), float("-inf")), ready=1)
    r = 0
    for c in caches:
        out.cross_k[:, r : r + c.rows, :, : c.text] = c.cross_k
        out.cross_v[:, r : r + c.rows, :, : c.text] = c.cross_v
        out.cross_bias[r : r + c.rows, :, :, : c.text] = c.cross_bias
        r += c.rows
    return out


def _span_mask(starts: torch.Tensor, t: int, span: int) -> torch.Tensor:
    """Bool [T]: True on [s, s + span) for every start s."""
    m = torch.zeros(t + span, dtype=torch.bool, device=starts.device)
    for j in range(span):
        m[starts + j] = True
    return m[:t]


def least_probable_spans(scores: torch.Tensor, target: int, span: int) -> torch.Tensor:
    """stride1 masking of one row: scores [T] (-log p per token) -> bool [T], the union of the least probable
    overlapping windows of `span`, as many as bring the masked count closest to `target` (a binary search)."""
    t = scores.shape[0]
    order = torch.argsort(scores.unfold(0, span, 1).sum(-1), descending=True)
    target = max(target, span)
    lo, hi = target // span, target - span + 1
    mid = round(0.5 * (lo + hi))
    mask = _span_mask(order[:mid], t, span)
    while lo < mid < hi:
        mask = _span_mask(order[:mid], t, span)
        if int(mask.sum()) > target:
            hi = mid
        else:
            lo = mid
        mid = round(0.5 * (lo + hi))
    return mask


class Magnet(CodecLM):
    """Load with `loopgen.load_model("facebook/magnet-small-10secs")`. `generate` takes audiocraft's decoding options
    (see `params.MagnetParams`); everything else (encode/decode, sample_rate, prompts) is the shared base's."""

    family = "magnet"
    cfg: MagnetConfig

    @property
    def max_frames(self) -> int:
        return self.cfg.segment_frames

    def quantize(self, stored: object = None) -> None:
        raise LoopgenError("int8 is for MusicGen on the CPU; run MAGNeT in float32 (or bfloat16)")

    @property
    def segment_seconds(self) -> float:
        return self.cfg.max_seconds

    def defaults(self) -> MagnetParams:
        """The decoding defaults: audiocraft's per family, then what the checkpoint's config says."""
        base = AUDIO_MAGNET if self.cfg.family == "audio" else MagnetParams()
        own = {_CFG_NAMES[k]: v for k, v in self.cfg.defaults if k in _CFG_NAMES}
        if "use_sampling" in dict(self.cfg.defaults):
            own["greedy"] = not dict(self.cfg.defaults)["use_sampling"]
        return base.replace(**own) if own else base

    def options(self, **changes: object) -> MagnetParams:
        return self.defaults().replace(**changes).validate(self.num_codebooks)

    # -- the forward pass ----------------------------------------------------------------------------------------
    @torch.inference_mode()
    def condition(self, texts: list[str]) -> KVCache:
        """Cross-attention K/V for the texts and their unconditional rows ([texts; nulls], 2B rows). As in
        audiocraft, the texts are padded to the longest and the padding (zero states) takes part in attention."""
        states, mask = self.encode_text(texts, guided=True)  # [texts; nulls], padding zeroed
        b, s = mask.shape
        cache = self.lm.new_cache(b, 0, s)
        attend = torch.ones_like(mask)
        attend[b // 2 :] = 0  # nulls: all-zero states, output exactly 0
        self.lm.condition(cache, torch.arange(b, device=self.device), states, attend)
        return cache

    def band(self, t: int, stage: int) -> torch.Tensor | None:
        """Stage 0 sees the whole segment; later stages |i - j| <= subcodes_context frames."""
        c = self.cfg.subcodes_context
        if stage == 0 or c < 0:
            return None
        pos = torch.arange(t, device=self.device)
        near = (pos[:, None] - pos[None, :]).abs() <= c
        return torch.zeros(t, t, device=self.device).masked_fill(~near, float("-inf"))

    @torch.inference_mode()
    def stage_logits(self, grid: torch.Tensor, cache: KVCache, stage: int | list[int]) -> torch.Tensor:
        """grid [N, K, T] codes (id card = mask) -> float32 logits [N, T, card] of codebook `stage` only (one stage
        for every row, or one per row: rows of several segments batched together)."""
        lm = self.lm
        n, t = grid.shape[0], grid.shape[-1]
        stages = [stage] * n if isinstance(stage, int) else list(stage)
        x = lm.embed(grid.transpose(1, 2)) + lm.position_table(t)[:t].to(lm.emb.dtype)
        band = self.band(t, 1)
        if band is None or not any(stages):
            bias = None
        elif all(stages):
            bias = band
        else:  # per row: stage 0 sees everything
            bias = torch.stack([band if s else torch.zeros_like(band) for s in stages])[:, None]
        for i, layer in enumerate(lm.layers):
            x = layer.full(x, i, cache, bias)
        card = self.cfg.lm.card
        w = lm.heads.weight
        w = w.to_dense() if w.is_mkldnn else w
        x = lm.norm(x)
        out = x.new_empty(n, t, card, dtype=torch.float32)
        for s in set(stages):
            rows = [r for r in range(n) if stages[r] == s]
            out[rows] = F.linear(x[rows], w[s * card : (s + 1) * card]).float()
        return out

    @torch.inference_mode()
    def passes(self, work: list[tuple[Decoding, KVCache]]) -> None:
        """One pass of each segment in `work` (each with its texts' `condition`): masked, run through the LM together
        where their lengths agree, unmasked. Each segment's result is what it gives alone (rows never attend across
        segments; each text keeps its own padding)."""
        for d, _ in work:
            self.mask(d)
        by_len: dict[int, list[tuple[Decoding, KVCache]]] = {}
        for d, c in work:
            by_len.setdefault(d.grid.shape[-1], []).append((d, c))
        for group in by_len.values():
            if len(group) == 1:
                d, c = group[0]
                self.unmask(d, self.stage_logits(torch.cat([d.grid, d.grid]), c, d.stage))
                continue
            grid = torch.cat([torch.cat([d.grid, d.grid]) for d, _ in group])
            stages = [d.stage for d, _ in group for _ in range(2 * d.grid.shape[0])]
            logits = self.stage_logits(grid, merge_text([c for _, c in group]), stages)
            for (d, _), part in zip(group, logits.split([2 * d.grid.shape[0] for d, _ in group])):
                self.unmask(d, part)

    def _draw(self, logits: torch.Tensor, temp: float, p: MagnetParams, seeds: torch.Tensor, draws: int,
              need: torch.Tensor):
        """logits [B, T, V] guided -> (tokens [B, T], the probability each had [B, T]) as audiocraft scores them,
        drawn only where `need` [B, T] (what the pass writes or scores: the rest is never read). Each drawn position
        gets exactly what a draw over every position would give it (its noise is its own counter's)."""
        b, t, v = logits.shape
        rows, cols = need.nonzero(as_tuple=True)  # [M]
        x = logits[rows, cols]  # [M, V]
        probs = torch.softmax(x / max(temp, 1e-2), dim=-1)
        if p.greedy:
            chosen = x.argmax(-1)
        else:
            top_k = 0 if p.top_p > 0 else p.top_k  # audiocraft: top_p wins over top_k
            m = x.shape[0]

            def full(y: float) -> torch.Tensor:
                return torch.full((m,), y, device=logits.device)

            kept = filter_logits(x[:, None], full(max(temp, 1e-2)), full(top_k).long(), full(p.top_p))[:, 0]
            counters = cols[:, None] * v + torch.arange(v, device=logits.device)  # [M, V]: as uniforms(.., t * v)
            noise = -torch.log(uniforms_at(seeds[rows], torch.full_like(rows, draws), counters))
            chosen = (kept.softmax(-1) / noise).argmax(-1)
            if top_k > 0:  # audiocraft scores top-k draws with the renormalised top-k probabilities
                kth = probs.topk(top_k, dim=-1).values[..., -1:]
                probs = probs * (probs >= kth)
                probs = probs / probs.sum(-1, keepdim=True)
        tokens = torch.zeros(b, t, dtype=torch.long, device=logits.device)
        prob = torch.ones(b, t, device=logits.device)
        tokens[rows, cols] = chosen
        prob[rows, cols] = probs.gather(-1, chosen[:, None])[:, 0]
        return tokens, prob

    # -- one segment, one pass at a time: explicit state, so a batch can interleave many ---------------------------
    def start(self, rows: int, frames: int, prompt: torch.Tensor | None, p: MagnetParams, seed: int,
              exact: bool = True, draws: int = 0) -> Decoding:
        """A segment of `rows` rows to decode: `frames` frames, prompt [rows, K, P] fixed at the front. nonoverlap
        decodes a whole number of spans: `exact` rounds up (`result` cuts back), else it trims, as audiocraft does.
        Row b draws with seed + b; `draws` counts the passes made before (each pass draws afresh)."""
        k, span = self.num_codebooks, self.cfg.span_len
        t = frames
        if p.span_arrangement == "nonoverlap" and span > 1 and frames % span:
            t = -(-frames // span) * span if exact else frames - frames % span
        grid = torch.full((rows, k, t), self.cfg.lm.card, dtype=torch.long, device=self.device)
        if prompt is not None:
            grid[..., : prompt.shape[-1]] = prompt
        seeds = torch.arange(rows, device=self.device, dtype=torch.long) + seed
        d = Decoding(grid, min(t, frames), prompt, p, seeds, draws=draws)
        self._open_stage(d)
        return d

    def _open_stage(self, d: Decoding) -> None:
        b, t, span = d.grid.shape[0], d.grid.shape[-1], self.cfg.span_len
        pl = d.prompt_frames
        d.row = torch.full((b, t), self.cfg.lm.card, dtype=torch.long, device=self.device)
        d.chunked = span > 1 and d.p.span_arrangement == "nonoverlap"
        if d.chunked:
            d.scores = torch.zeros(b, t // span, device=self.device)
            d.scores[:, : pl // span] = KEEP
            d.to_gen = t // span - pl // span
        else:
            d.scores = torch.zeros(b, t, device=self.device)
            d.scores[:, :pl] = KEEP
            d.to_gen = t - pl
        d.times = torch.linspace(0, 1, d.p.decoding_steps[d.stage])

    def mask(self, d: Decoding) -> None:
        """Before a pass: re-mask the least confident spans of the current stage (all of it on the first pass)."""
        b, span, mask_id = d.grid.shape[0], self.cfg.span_len, self.cfg.lm.card
        d.mask_p = torch.cos(d.times[d.i] * math.pi * 0.5)  # float32, as audiocraft computes it
        count = max(int((d.mask_p * d.to_gen).item()), 1)
        if d.chunked:
            d.chosen = torch.zeros_like(d.scores, dtype=torch.bool)
            d.chosen.scatter_(1, d.scores.topk(count, dim=-1).indices, True)
            d.row[d.chosen.repeat_interleave(span, dim=-1)] = mask_id
        elif span > 1:  # stride1: overlapping windows, one row at a time
            for r in range(b):
                d.row[r, least_probable_spans(d.scores[r], count, span)] = mask_id
        else:
            d.row.scatter_(1, d.scores.topk(count, dim=-1).indices, mask_id)
        if d.prompt is not None:
            d.row[:, : d.prompt_frames] = d.prompt[:, d.stage]
        d.grid[:, d.stage] = d.row

    def unmask(self, d: Decoding, both: torch.Tensor) -> None:
        """After a pass: both [2B, T, card] (the texts' rows, then their unconditional rows) -> guided draws into the
        masked positions, new scores; then the next pass, or the next stage."""
        p, b, mask_id, n = d.p, d.grid.shape[0], self.cfg.lm.card, d.p.decoding_steps[d.stage]
        cond, unc = both.split(b)
        w = float(d.mask_p) * p.max_cfg_coef + (1 - float(d.mask_p)) * p.min_cfg_coef
        logits = unc + (cond - unc) * w
        temp = p.temperature * ((n - 1 - d.i) / n) if p.anneal_temp else p.temperature
        d.draws += 1
        masked = d.row == mask_id
        need = d.chosen.repeat_interleave(self.cfg.span_len, dim=-1) if d.chunked else masked  # what is read below
        tokens, prob = self._draw(logits, temp, p, d.seeds, d.draws, need)
        d.row = torch.where(masked, tokens, d.row)
        d.grid[:, d.stage] = d.row
        if d.chunked:
            per = prob.reshape(b, -1, self.cfg.span_len)
            scores = 1 - per.max(-1).values if p.span_scoring == "max" else (-torch.log(per)).sum(-1)
            d.scores = scores.masked_fill(~d.chosen, KEEP)
        else:
            d.scores = (-torch.log(prob)).masked_fill(~masked, KEEP)
        d.i += 1
        if d.i == n:
            d.stage, d.i = d.stage + 1, 0
            if not d.done:
                self._open_stage(d)

    @torch.inference_mode()
    def segment(self, cache: KVCache, frames: int, prompt: torch.Tensor | None, p: MagnetParams, seed: int,
                progress: Callable[[StepInfo], None] | None = None, done: int = 0, total: int = 0,
                exact: bool = True) -> torch.Tensor:
        """One segment decoded alone -> codes [B, K, frames'] (see `start`); cache: `condition` of the B texts."""
        d = self.start(cache.rows // 2, frames, prompt, p, seed, exact, draws=done)
        while not d.done:
            self.passes([(d, cache)])
            if progress is not None:
                progress(StepInfo(d.draws, total or sum(p.decoding_steps)))
        return d.result

    @torch.inference_mode()
    def generate(
        self,
        texts: list[str] | str,
        seconds: float | None = None,
        seed: int | None = None,
        prompt_audio: torch.Tensor | np.ndarray | None = None,
        prompt_sample_rate: int | None = None,
        progress: Callable[[StepInfo], None] | None = None,
        **options: object,
    ) -> Generation:
        """A segment per text; `options` are MAGNeT's decoding options (`params.MagnetParams`: decoding_steps,
        span_arrangement, span_scoring, temperature, top_k, top_p, max_cfg_coef, min_cfg_coef, anneal_temp,
        greedy), defaulting to audiocraft's for this model family.

        seconds=None makes one segment as audiocraft does (prompt included, nonoverlap trims to whole spans).
        seconds: that much new audio exactly, after the prompt; past one segment it goes on segment by segment, the
        last half segment fixed as the prompt of the next. Row b samples with seed + b (each pass draws afresh)."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            raise LoopgenError("at least one prompt text is needed")
        p = self.options(**options)
        seed = check_seed(seed)
        prompt = self.prompt_codes(prompt_audio, prompt_sample_rate, len(texts))
        pl = 0 if prompt is None else prompt.shape[-1]
        seg, keep = self.max_frames, self.max_frames // 2
        if pl >= seg:
            raise LoopgenError(f"the prompt ({pl / self.frame_rate:g} s) must be shorter than a segment "
                               f"({self.segment_seconds:g} s)")
        cache = self.condition(texts)
        if seconds is None:
            codes = self.segment(cache, seg, prompt, p, seed, progress, exact=False)
            return Generation(codes, self.decode(codes), self.sample_rate, pl, seed)
        want = pl + self.frames_for(seconds, window=False)
        passes = 1 + max(0, math.ceil((want - seg) / (seg - keep)))
        total = passes * sum(p.decoding_steps)
        codes = self.segment(cache, min(want, seg), prompt, p, seed, progress, 0, total)
        for j in range(1, passes):
            ctx = codes[..., -keep:]
            more = self.segment(cache, min(keep + want - codes.shape[-1], seg), ctx, p, seed, progress,
                                j * sum(p.decoding_steps), total)
            codes = torch.cat([codes, more[..., keep:]], dim=-1)
        return Generation(codes, self.decode(codes), self.sample_rate, pl, seed)

