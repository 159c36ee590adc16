"""The one generation engine: a single device-side step that `MusicGen.generate`, streaming sessions and batches
share.

An engine holds *voices* (output rows: what one listener hears) and *LM rows* (what the transformer computes: one per
weighted prompt of a voice, plus one unconditional row when the voice is guided). All per-voice and per-row state
lives in preallocated device tensors of fixed shape: the token columns of each voice's window with the delay pattern
(`seq`, `forced`), the next column to choose (`col`, which is also every row's position), the sampling parameters,
the seed and draw count, and which voices step. `step()` is one pure function of those tensors: embed the last
column, run the LM's fixed-shape decode, guide, choose, write the column. Voices that are not stepping (priming a
window, finished, free) are masked out, never fed a dummy token. A change of parameters or prompts is a tensor write.
The host keeps a mirror of each voice's column (it knows how many steps it asked for), so nothing in the step reads
the device. With `compile=...` the step runs through `torch.compile(fullgraph=True)`: one graph per batch size. With
`graphs=True` (CUDA) the step is captured in a CUDA graph per set of shapes and replayed (`models.graphs`): parameter
and prompt changes and voices joining or leaving are writes into the same tensors, so they need no new capture; only
a growth (`reserve`: more voices, rows, positions or text than the engine has room for) does.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import torch

from ..errors import LoopgenError
from .delay import forced_columns
from .graphs import CudaGraphs, tensor_key
from .lm import ALL_ROWS, Groups, KVCache, MusicgenLM
from ..params import SamplingParams
from .sampling import choose, guide



class Conditioner(Protocol):
    """What the engine needs of its model: the LM and its config, where it runs, and how a voice is conditioned
    (text states for cross-attention, or a melody model's prefix). MusicGen and MusicgenMelody provide it."""

    lm: MusicgenLM
    cfg: Any  # .lm: LMConfig
    prefixed: bool  # conditioned by a prefix of the sequence (melody), not by cross-attention
    name: str

    @property
    def device(self) -> torch.device: ...

    def encode_text(self, texts: list[str], guided: bool) -> tuple[torch.Tensor, torch.Tensor]: ...

    def prefix(self, texts: list[str], chroma: torch.Tensor | None, guided: bool) -> torch.Tensor: ...

    def no_melody(self) -> LoopgenError: ...

TEXT_CAPACITY = 64  # text tokens per row before the cache grows (a growth is a new shape: a recompile)


@dataclass
class Slots:
    """Per-voice device state, B voice slots. Columns of voice b's window: seq[b, :, :cols]."""

    seq: torch.Tensor  # [B, K, C] long: chosen and forced ids (C = positions + 1 columns)
    forced: torch.Tensor  # [B, K, C] long: -1 where the model chooses, else the id to write
    col: torch.Tensor  # [B] long: next column to choose; the column fed at this step is col - 1
    live: torch.Tensor  # [B] bool: steps at the next step
    seed: torch.Tensor  # [B] long
    draws: torch.Tensor  # [B] long: columns chosen so far (the draw counter of the seeded hash)
    temperature: torch.Tensor  # [B] float32
    top_k: torch.Tensor  # [B] long
    top_p: torch.Tensor  # [B] float32
    cfg: torch.Tensor  # [B] float32
    offset: torch.Tensor  # [B] long: KV positions before the window's column 0 (a melody model's prefix), else 0


@dataclass
class Rows:
    """Per-LM-row device state, R row slots."""

    voice: torch.Tensor  # [R] long: the voice the row serves (0 for free rows, whose weight is 0)
    weight: torch.Tensor  # [R] float32: normalised prompt weight (0 = unconditional or free)
    uncond: torch.Tensor  # [R] bool


def _grow(t: torch.Tensor, n: int, fill: Any = 0, dim: int = 0) -> torch.Tensor:
    if t.shape[dim] >= n:
        return t
    shape = list(t.shape)
    shape[dim] = n - t.shape[dim]
    return torch.cat([t, t.new_full(shape, fill)], dim=dim)


@dataclass
class Voice:
    """The host's view of one voice. `col` mirrors the device's; `fed` counts the columns already in the KV cache."""

    slot: int
    rows: list[int]  # LM rows: one per weighted prompt, then the unconditional one if guided
    guided: bool
    prompts: list[tuple[str, float]]
    params: SamplingParams
    seed: int
    cols: int = 0  # columns in the current window (frames + D + 1)
    col: int = 0
    fed: int = 0
    live: bool = False
    text: int = 1  # text tokens of its longest prompt
    span: int = 0  # positions a window needs (columns), beside the prefix
    melody: torch.Tensor | None = None  # one-hot chroma [T, 12] (a melody model), None: no melody
    offset: int = 0  # prefix positions (a melody model's chroma + text) before column 0
    pending: bool = False  # prompts or melody changed: the prefix is re-made at the next window (a melody model)
    index: torch.Tensor | None = None  # `rows` on the device, made when they change (never in the per-step path)
    slot_index: torch.Tensor | None = None  # [1] `slot` on the device

    @property
    def cond_rows(self) -> list[int]:
        return self.rows[: len(self.prompts)]


def engine_step(lm: MusicgenLM, cache: KVCache, v: Slots, r: Rows, table: torch.Tensor,
                delays: torch.Tensor, end: int | None, text: int | None, groups: Groups = None) -> torch.Tensor:
    """One step of every voice (fixed shapes; see the module docstring). Returns [B, K]: the codes of the frame
    each voice's new column completed (meaningful only where the host's bookkeeping says a frame completed)."""
    b, k, c = v.seq.shape
    fed = (v.col - 1).clamp(min=0)  # [B] the column fed now; its position is offset + fed
    last = v.seq.gather(2, fed[:, None, None].expand(b, k, 1))[..., 0]  # [B, K]
    logits = lm.decode(cache, last.index_select(0, r.voice), (fed + v.offset).index_select(0, r.voice),
                       v.live.index_select(0, r.voice) & ((r.weight > 0) | r.uncond), table, end, text, groups)
    chosen = choose(guide(logits, r.voice, r.weight, r.uncond, v.cfg), v.temperature, v.top_k, v.top_p,
                    v.seed, v.draws, eager=end is not None)  # [B, K] (end is None: a captured or compiled step)
    at = v.col.clamp(max=c - 1)[:, None, None].expand(b, k, 1)
    want = v.forced.gather(2, at)[..., 0]
    new = torch.where(v.live[:, None], torch.where(want < 0, chosen, want), v.seq.gather(2, at)[..., 0])
    v.seq.scatter_(2, at, new[..., None])
    stepped = v.live.long()
    v.col.add_(stepped)
    v.draws.add_(stepped)
    # the frame whose last codebook this column completed: frame f = col - 2 - D sits at column 1 + delay_k + f
    fcol = (v.col[:, None] - 1 - delays.max() + delays[None, :]).clamp(0, c - 1)  # [B, K]
    return v.seq.gather(2, fcol[..., None])[..., 0]


class Engine:
    """Voices of one model stepped together. Owned by one caller at a time (not thread-safe). Every method that
    touches device state runs in inference mode, so state made during a step can be written between steps.

    compile: None (eager), True (inductor) or a torch.compile backend; the compiled step reads the whole cache under
    its masks (fixed shapes), the eager one only the part in use. graphs: capture the (fixed-shape) step in CUDA
    graphs (a CUDA model only; with or without compile)."""

    def __init__(self, m: Conditioner, voices: int = 1, rows: int = 2, positions: int = 16,
                 text: int = TEXT_CAPACITY, compile: bool | str | Callable | None = None, graphs: bool = False):
        self.m = m
        self.lm: MusicgenLM = m.lm
        cfg = m.cfg.lm
        self.delays = torch.tensor(cfg.delays, device=m.device)
        self.card = cfg.card
        dev, k = m.device, cfg.num_codebooks
        self.cache = self.lm.new_cache(rows, positions, text)
        self.v = Slots(
            seq=torch.full((voices, k, positions + 1), cfg.card, dtype=torch.long, device=dev),
            forced=torch.full((voices, k, positions + 1), cfg.card, dtype=torch.long, device=dev),
            col=torch.zeros(voices, dtype=torch.long, device=dev),
            live=torch.zeros(voices, dtype=torch.bool, device=dev),
            seed=torch.zeros(voices, dtype=torch.long, device=dev),
            draws=torch.zeros(voices, dtype=torch.long, device=dev),
            temperature=torch.ones(voices, device=dev), top_k=torch.zeros(voices, dtype=torch.long, device=dev),
            top_p=torch.zeros(voices, device=dev), cfg=torch.ones(voices, device=dev),
            offset=torch.zeros(voices, dtype=torch.long, device=dev),
        )
        self.r = Rows(voice=torch.zeros(rows, dtype=torch.long, device=dev), weight=torch.zeros(rows, device=dev),
                      uncond=torch.zeros(rows, dtype=torch.bool, device=dev))
        self.voices: dict[int, Voice] = {}  # slot -> voice
        self.free_rows: list[int] = list(range(rows))
        self._compiled = None
        self._graphs = CudaGraphs(m.device) if graphs else None
        if compile:
            if self.lm.packed:
                self.lm.unpack()  # torch.compile cannot trace oneDNN's packed weights
            backend = "inductor" if compile is True else compile
            self._compiled = torch.compile(engine_step, fullgraph=True, dynamic=False, backend=backend)

    # -- sizes -------------------------------------------------------------------------------------------------
    @property
    def positions(self) -> int:
        return self.cache.positions

    @torch.inference_mode()
    def reserve(self, voices: int = 0, rows: int = 0, positions: int = 0, text: int = 0) -> None:
        """Make room, contents kept: voices, rows and text at least double when they grow; positions grow to exactly
        what is asked (a window's length is known). A growth changes shapes: a compiled step recompiles."""
        b, r = self.v.seq.shape[0], self.cache.rows
        nb = b if voices <= b else max(voices, 2 * b)
        nr = r if rows <= r else max(rows, 2 * r)
        npos = self.positions if positions <= self.positions else positions
        ntext = self.cache.text if text <= self.cache.text else max(text, 2 * self.cache.text)
        if (nr, npos, ntext) != (r, self.positions, self.cache.text):
            self.cache = self.cache.grown(nr, npos, ntext)
            self.r = Rows(_grow(self.r.voice, nr), _grow(self.r.weight, nr), _grow(self.r.uncond, nr, False))
            self.free_rows += list(range(r, nr))
        if nb != b or npos + 1 != self.v.seq.shape[2]:
            v = self.v
            seq = _grow(_grow(v.seq, npos + 1, self.card, dim=2), nb, self.card)
            forced = _grow(_grow(v.forced, npos + 1, self.card, dim=2), nb, self.card)
            self.v = Slots(seq, forced, _grow(v.col, nb), _grow(v.live, nb, False), _grow(v.seed, nb),
                           _grow(v.draws, nb), _grow(v.temperature, nb, 1.0), _grow(v.top_k, nb),
                           _grow(v.top_p, nb), _grow(v.cfg, nb, 1.0), _grow(v.offset, nb))

    # -- voices ------------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def add(self, prompts: list[tuple[str, float]], params: SamplingParams, seed: int, guided: bool,
            positions: int, melody: torch.Tensor | None = None) -> Voice:
        """A new voice with (text, weight) prompts, needing up to `positions` positions per window (a melody
        model's prefix comes on top). melody: one-hot chroma [T, 12] for a melody model (None: no melody)."""
        if melody is not None and not self.m.prefixed:
            raise self.m.no_melody()
        slot = next((i for i in range(self.v.seq.shape[0]) if i not in self.voices), len(self.voices))
        self.reserve(voices=slot + 1, rows=self.cache.rows - len(self.free_rows) + len(prompts) + guided,
                     positions=positions)
        rows = [self.free_rows.pop(0) for _ in range(len(prompts) + guided)]
        voice = Voice(slot, rows, guided, list(prompts), params, seed, span=positions, melody=melody)
        self._indices(voice)
        self.voices[slot] = voice
        self.v.seed[slot] = seed
        self.v.draws[slot] = 0
        self.v.live[slot] = False
        self.set_params(voice, params)
        self._condition(voice)
        return voice

    def _indices(self, voice: Voice) -> None:
        """The voice's rows and slot as device index tensors (made when they change, so steps copy nothing)."""
        voice.index = torch.tensor(voice.rows, device=self.m.device)
        voice.slot_index = torch.arange(voice.slot, voice.slot + 1, device=self.m.device)

    @torch.inference_mode()
    def remove(self, voice: Voice) -> None:
        """Free a voice's slot and rows (their memory is reused by the next voice)."""
        if self.voices.get(voice.slot) is not voice:
            return
        del self.voices[voice.slot]
        self.v.live[voice.slot].fill_(False)  # scalar fills and device indices: no copy from the host on a GPU
        idx = voice.index
        self.r.weight.index_fill_(0, idx, 0.0)
        self.r.uncond.index_fill_(0, idx, False)
        self.r.voice.index_fill_(0, idx, 0)
        self.free_rows += voice.rows

    @torch.inference_mode()
    def set_params(self, voice: Voice, params: SamplingParams) -> None:
        """From the next step. cfg_coef != 1 on an unguided voice has nothing to guide with: refused."""
        if params.cfg_coef != 1.0 and not voice.guided:
            raise LoopgenError("this generation was started without guidance (cfg_coef 1): it cannot change cfg_coef")
        s = voice.slot
        self.v.temperature[s] = params.temperature
        self.v.top_k[s] = int(params.top_k)
        self.v.top_p[s] = params.top_p
        self.v.cfg[s] = params.cfg_coef
        voice.params = params

    @torch.inference_mode()
    def set_prompts(self, voice: Voice, prompts: list[tuple[str, float]]) -> None:
        """New weighted prompts from the next step. The self-attention history is kept: a prompt row that is new
        takes the history of the voice's first prompt row, so the music morphs without a restart.

        A melody model (prefix-conditioned) cannot swap its conditioning under a history made with the old one:
        the change waits for the voice's next window (`start_window`), which makes the prefix again."""
        if self.m.prefixed:
            voice.prompts, voice.pending = list(prompts), True
            return
        self._set_prompts(voice, prompts)

    @torch.inference_mode()
    def set_melody(self, voice: Voice, melody: torch.Tensor | None) -> None:
        """A new melody (one-hot chroma [T, 12], None: none) from the voice's next window (see `set_prompts`)."""
        if not self.m.prefixed:
            raise self.m.no_melody()
        voice.melody, voice.pending = melody, True

    def _set_prompts(self, voice: Voice, prompts: list[tuple[str, float]]) -> None:
        old = voice.cond_rows
        n = len(prompts)
        if n != len(old):
            if n > len(old):
                self.reserve(rows=self.cache.rows - len(self.free_rows) + n - len(old))
            keep = old[:n]
            extra = [self.free_rows.pop(0) for _ in range(n - len(keep))]
            dropped = old[n:]
            if extra:
                idx = torch.tensor(extra, device=self.m.device)
                self.cache.copy_rows(idx, torch.full_like(idx, old[0]))
            if dropped:
                idx = torch.tensor(dropped, device=self.m.device)
                self.r.weight[idx] = 0.0
                self.r.voice[idx] = 0
                self.free_rows += dropped
            voice.rows = keep + extra + voice.rows[len(old):]
            self._indices(voice)
        voice.prompts = list(prompts)
        self._condition(voice)

    def _condition(self, voice: Voice) -> None:
        texts = [t for t, _ in voice.prompts]
        idx = voice.index
        if self.m.prefixed:  # the conditioning is the first positions of every row: [n(+1), P, D]
            prefix = self.m.prefix(texts, voice.melody, voice.guided)
            voice.offset = prefix.shape[1]
            self.reserve(positions=voice.offset + voice.span)
            self.lm.prefill_embeds(self.cache, idx, prefix, 0)
            self.v.offset[voice.slot] = voice.offset
            voice.pending = False
        else:
            states, mask = self.m.encode_text(texts, guided=False)  # [n, S, D], [n, S]
            if voice.guided:
                states = torch.cat([states, states.new_zeros(1, *states.shape[1:])])
                mask = torch.cat([mask, mask.new_zeros(1, mask.shape[1])])
            self.reserve(text=states.shape[1])
            self.lm.condition(self.cache, idx, states, mask)
            voice.text = states.shape[1]
        total = sum(w for _, w in voice.prompts)
        weights = [w / total for _, w in voice.prompts] + ([0.0] if voice.guided else [])
        self.r.weight[idx] = torch.tensor(weights, device=self.m.device)
        self.r.uncond[idx] = torch.tensor([False] * len(voice.prompts) + [True] * voice.guided, device=self.m.device)
        self.r.voice[idx] = voice.slot

    # -- windows -----------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def start_window(self, voice: Voice, prompt: torch.Tensor | None, frames: int) -> None:
        """Open a window of `frames` frames whose first ones are `prompt` [K, P] codes (teacher-forced), at
        position 0 of the voice's rows (the memory is reused). The window primes before it steps (`prime`)."""
        if voice.pending:  # a melody model's new prompts or melody: its prefix is made again here
            self._set_prompts(voice, voice.prompts)
        forced = forced_columns(None if prompt is None else prompt[None], 1, frames, self.m.cfg.lm.delays,
                                self.card, self.m.device)[0]  # [K, cols]
        cols = forced.shape[-1]
        if voice.offset + cols - 1 > self.positions:
            self.reserve(positions=voice.offset + cols - 1)
        s = voice.slot
        p = 0 if prompt is None else prompt.shape[-1]
        self.v.forced[s].fill_(self.card)
        self.v.forced[s, :, :cols] = forced
        self.v.seq[s] = self.v.forced[s]
        voice.cols, voice.col, voice.fed = cols, p + 1, 0  # columns 0..p are known
        self.v.col[s] = voice.col
        self._set_live(voice, voice.col - 1 == 0)

    @torch.inference_mode()
    def prime(self, voice: Voice, max_tokens: int | None = None, upto: int | None = None) -> bool:
        """Feed known columns of the window into the KV cache (all but the last, which the next step feeds), at most
        `max_tokens` of them and none from position `upto` on. Returns True once the voice is ready to step."""
        target = voice.col - 1
        if voice.fed < target:
            end = target if max_tokens is None else min(target, voice.fed + max_tokens)
            end = end if upto is None else min(end, max(upto, voice.fed))
            tokens = self.v.seq[voice.slot, :, voice.fed : end]  # [K, T]
            rows = tokens[None].expand(len(voice.rows), -1, -1)
            self.lm.prefill(self.cache, voice.index, rows, voice.offset + voice.fed)
            voice.fed = end
        if voice.fed == target and not voice.live:
            self._set_live(voice, True)
        return voice.live

    @torch.inference_mode()
    def set_draws(self, voice: Voice, draws: int) -> None:
        """Set the voice's draw counter (a stream resumed elsewhere goes on with the draws it had)."""
        self.v.draws[voice.slot] = int(draws)

    @torch.inference_mode()
    def stop(self, voice: Voice) -> None:
        self._set_live(voice, False)

    def _set_live(self, voice: Voice, live: bool) -> None:
        if voice.live != live:
            voice.live = live
            self.v.live[voice.slot].fill_(live)  # a scalar fill: no copy from the host on a GPU

    # -- the step ----------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def step(self) -> torch.Tensor:
        """One step of every live voice. Returns [B, K]: per voice slot, the frame its new column completed
        (see `completed`). Voices that are not live are untouched."""
        live = [v for v in self.voices.values() if v.live]
        table = self.lm.position_table(self.positions + 1)
        if self._graphs is not None or self._compiled is not None:
            self.cache.prepare(self.positions + 1)  # the captured step reads everything
            fn = self._compiled or engine_step

            def step() -> torch.Tensor:
                return fn(self.lm, self.cache, self.v, self.r, table, self.delays, None, None)

            if self._graphs is None:
                out = step()
            else:
                out = self._graphs.run(self._key(table), step).clone()  # the graph's memory is its next replay's
        else:
            end = max((v.offset + v.col for v in live), default=1)  # positions fed so far + this one
            text = max((v.text for v in self.voices.values()), default=1)
            self.cache.prepare(end)
            out = engine_step(self.lm, self.cache, self.v, self.r, table, self.delays, end, text,
                              self._groups(live) if self.lm.int8 else None)
        for v in live:
            v.col += 1
            v.fed = v.col - 1
            if v.col >= v.cols:  # the window is full: nothing more to choose in it
                self._set_live(v, False)
        return out

    def _groups(self, live: list[Voice]) -> Groups:
        """An int8 step's activation scales, one per stepping voice over its own rows: its music then does not
        depend on what else plays (a take is made again alone, bit for bit). One voice on every row: one call."""
        if len(live) == 1 and live[0].rows == list(range(self.cache.rows)):
            return ALL_ROWS
        return tuple(v.index for v in live)

    def _key(self, table: torch.Tensor) -> tuple:
        """Every tensor the step reads or writes (a captured step is valid while none is reallocated)."""
        c, v, r = self.cache, self.v, self.r
        return tensor_key(self.lm.emb, table, self.delays, c.k, c.v, c.cross_k, c.cross_v, c.cross_bias,
                          *vars(v).values(), *vars(r).values())

    def completed(self, voice: Voice) -> int | None:
        """The window frame the voice's latest column completed, or None (filling the delay pattern)."""
        f = voice.col - 2 - max(self.m.cfg.lm.delays)
        return f if f >= 0 else None

    # -- moving a voice between engines ------------------------------------------------------------------------
    @torch.inference_mode()
    def adopt(self, other: "Engine", voice: Voice) -> Voice:
        """Move `voice` of engine `other` into this one (history, window, parameters, seed and draw count) and
        remove it from `other`. Returns its new handle."""
        self.reserve(positions=other.positions)
        slot = next((i for i in range(self.v.seq.shape[0]) if i not in self.voices), len(self.voices))
        self.reserve(voices=slot + 1, rows=self.cache.rows - len(self.free_rows) + len(voice.rows), text=voice.text)
        rows = [self.free_rows.pop(0) for _ in voice.rows]
        dst, src = torch.tensor(rows, device=self.m.device), torch.tensor(voice.rows, device=self.m.device)
        self.cache.copy_rows(dst, src, other.cache)
        for name in ("weight", "uncond"):
            getattr(self.r, name)[dst] = getattr(other.r, name)[src]
        self.r.voice[dst] = slot
        c = other.v.seq.shape[2]
        for name in ("seq", "forced"):
            t = getattr(self.v, name)[slot]
            t.fill_(self.card)
            t[:, :c] = getattr(other.v, name)[voice.slot]
        for name in ("col", "live", "seed", "draws", "temperature", "top_k", "top_p", "cfg", "offset"):
            getattr(self.v, name)[slot] = getattr(other.v, name)[voice.slot]
        other.remove(voice)
        new = replace(voice, slot=slot, rows=rows)
        self._indices(new)
        self.voices[slot] = new
        return new
