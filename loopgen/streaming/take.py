"""A take: one generation as a listener gets it. A session and an incremental decoder, plus the arithmetic that turns
their output into the take's audio: the prompt's rendering skipped, a continuation spliced onto the audio it
continues, a loop generated past its end and wrapped. `loops.py` and the daemon both make their audio here.

Timeline: sample 0 is the start of the audio continued (or of the take). A continued audio of n0 samples gives its
whole frames (keep = n0 // hop * hop) to the model as a prompt; the model's frames then start at `keep`, and new
audio starts at n0 (the `lead` samples keep..n0 are the original's). The decoder renders the prompt frames the
session uses, so the first new sample continues them without a seam.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from ..errors import LoopgenError
from ..models.chroma import from_pitch_classes, pitch_classes
from ..models.base import CodecLM
from .bank import BankStream, DecoderBank
from .dsp import splice, splice_length, wrap, wrap_length
from .family import Batch, family, open_stream
from .types import Frame


def usable_tail(m: CodecLM, audio, rate: int):
    """The part of audio [..., N] at `rate` that a continuation can use: its last window (plus a second), so the
    work of resampling and encoding it is bounded by time, whatever the length sent."""
    return audio[..., -int((m.max_frames / m.frame_rate + 1) * rate) :]


class Take:
    """length: samples of the result. loop: generate `wrap_length` past the end and wrap. original [C, n0]: audio to
    continue (at the model's rate and channels); keep_original: the result holds it (extend, vary) or only the new
    audio (continue). melody: a melody model's one-hot chroma [T, 12] (None: none), made as `melody_from` says
    (kept for the sidecar). bank: the decoder bank it decodes in (the daemon's, shared by every live take; default
    its own, of one row: pass `DecoderBank(m, 1)` to decode with a crowd's bits, as `render --from` does). params:
    the sampling values given (request names; the model family's defaults fill the rest). The caller steps `session`
    (alone or in a Batch) and hands each frame to `push`, or the frames of many takes to `push_frames`."""

    def __init__(self, m: CodecLM, prompts: list, params: Mapping[str, float] | Any | None, seed: int | None,
                 length: int, loop: bool = False, original: torch.Tensor | None = None, keep_original: bool = False,
                 guided: bool | None = None, melody: torch.Tensor | None = None, melody_from: str | None = None,
                 bank: DecoderBank | None = None):
        hop, sr = m.cfg.audio.hop_length, m.sample_rate
        self.m, self.length, self.loop, self.keep_original = m, length, loop, keep_original
        self.original = original
        n0 = 0 if original is None else original.shape[-1]
        keep = (n0 // hop) * hop
        lead = n0 - keep if keep else 0
        self.overrun = wrap_length(length, sr) if loop else 0
        target = length - (n0 if keep_original else 0)  # new samples the result needs
        frames = max(1, math.ceil((target + self.overrun + lead) / hop))
        win, context = family(m).window(m)
        first = 0 if keep // hop < win else keep - context * hop  # a long original: only the part a window keeps
        codes = m.encode(original[None, :, first:keep], sr) if keep else None
        self.session = open_stream(m, prompts, params, seed, frames / m.frame_rate, codes, guided=guided,
                                   melody=[melody])
        self.sampling = self.session.sampling  # the values it started with, in request names (changes: `changes`)
        self.prompts = [tuple(x) for x in self.session.rows[0]]  # the prompts it started with
        self.melody = melody  # the melody it started with (live changes are in `changes`)
        self.melody_from = melody_from  # how its chroma was made (raw audio, or stems), for the sidecar
        self.decoder: BankStream = (bank or DecoderBank(m, 1, exact=False)).open()
        used = self.session.history.shape[-1] if keep else 0  # the prompt frames the session actually uses
        self.bridge_length = min(splice_length(sr), used * hop) if keep_original and keep else 0
        self.skip = used * hop + lead - self.bridge_length  # decoded samples before the bridge
        self.bridge: list[torch.Tensor] = []  # the rendering of the original's last samples
        self.bridged = 0
        self.pcm: list[torch.Tensor] = []  # [C, n] chunks of new audio
        self.made = 0
        self.frames = 0
        self.total_frames = frames
        self.changes: list[dict] = []  # live changes, each with the session tick it applied at (see `replay`)
        # the CPU threads it starts with (the thread that steps it): the last bits of a step and a decode depend on
        # the count, so a change of it is recorded as a live change (`note_threads`) and replayed
        self.threads = torch.get_num_threads()
        if used:
            self._take(self.decoder.push(codes[..., -used:]))

    @property
    def seed(self) -> int:
        return self.session.seed

    # -- live changes, recorded so the take can be made again ------------------------------------------------
    def set_params(self, **changes: float) -> None:
        self.session.set_params(**changes)
        self.changes.append({"tick": self.session.ticks, "frame": self.session.next_frame, "params": changes})

    def set_prompts(self, prompts: list) -> None:
        self.session.set_prompts([prompts])
        self.changes.append({"tick": self.session.ticks, "frame": self.session.next_frame,
                             "prompts": [list(p) for p in prompts]})

    def set_melody(self, melody: torch.Tensor | None) -> None:
        """A melody model's new melody (one-hot chroma [T, 12], None: none), from a new window at the next step."""
        self.session.set_melody([melody])
        self.changes.append({"tick": self.session.ticks, "frame": self.session.next_frame,
                             "melody": None if melody is None else pitch_classes(melody)})

    def note_threads(self, n: int) -> None:
        """The loop that steps this take runs on `n` CPU threads from its next step (the thread policy's choice)."""
        self.changes.append({"tick": self.session.ticks, "frame": self.session.next_frame, "threads": int(n)})

    def replay(self, changes: list[dict], prefill_chunk: int | None = None, frames: int | None = None) -> torch.Tensor:
        """Make the take again: step the session alone (batched and alone give the same music), applying each
        recorded change at its tick; stop after `frames` frames if the original was stopped. Returns `audio()`."""
        batch = Batch(self.m, [self.session], prefill_chunk=prefill_chunk)
        todo = sorted(changes, key=lambda c: c["tick"])
        while not self.session.done and (frames is None or self.frames < frames):
            while todo and todo[0]["tick"] <= self.session.ticks:
                self._apply(todo.pop(0))
            for _, f in batch.step():
                self.push(f)
        stopped = frames is not None
        self.session.cancel()
        batch.step()  # the session leaves and frees its rows
        self.flush()
        return self.audio(stopped)

    def resume(self, codes: torch.Tensor, window, ticks: int, changes: list[dict]) -> None:
        """Go on as the same take made elsewhere up to now: `codes` [1, K, n] the frames it made, `window` and `ticks`
        its session's (`Session.window_state`, `ticks`), `changes` its live changes so far. The session resumes in
        that window (its next frames are the ones the other would have made) and the decoder is fed every frame, so
        `pcm` holds the take so far and its next audio follows without a seam. Call before its session first
        steps; MusicGen's streams only (MAGNeT's segments are not resumed)."""
        if not hasattr(self.session, "resume"):
            raise LoopgenError(f"{self.m.name}: its streams cannot be resumed elsewhere")
        for c in changes:  # the values in use now (the session has no voices yet: no new window is opened); the
            if "threads" not in c:  # threads are the new host's own
                self._apply(c)
        self.changes = [dict(c) for c in changes]  # as they were recorded, at their ticks
        self.session.resume(codes, window, ticks)
        if codes.shape[-1]:
            self._take(self.decoder.push(codes.to(self.m.device)))
            self.frames += codes.shape[-1]

    def _apply(self, c: dict) -> None:
        """One recorded live change (`changes`), applied now."""
        if "params" in c:
            self.set_params(**c["params"])
        if "prompts" in c:
            self.set_prompts([tuple(p) for p in c["prompts"]])
        if "melody" in c:
            self.set_melody(None if c["melody"] is None else from_pitch_classes(c["melody"]).to(self.m.device))
        if "threads" in c:
            torch.set_num_threads(c["threads"])
            self.note_threads(c["threads"])

    def push(self, frame: Frame) -> torch.Tensor:
        """One frame of the session -> the new audio it finalised [C, n] (n may be 0)."""
        return push_frames([(self, frame)])[0]

    def flush(self) -> torch.Tensor:
        """End of the stream: the decoder's last samples [C, n]."""
        return self._take(self.decoder.flush())

    def _take(self, pcm: torch.Tensor) -> torch.Tensor:
        x = pcm[0]
        if self.skip:
            cut = min(self.skip, x.shape[-1])
            x, self.skip = x[:, cut:], self.skip - cut
        if self.bridged < self.bridge_length and x.shape[-1]:
            cut = min(self.bridge_length - self.bridged, x.shape[-1])
            self.bridge.append(x[:, :cut])
            self.bridged += cut
            x = x[:, cut:]
        if x.shape[-1]:
            self.pcm.append(x)
            self.made += x.shape[-1]
        return x

    def audio(self, stopped: bool = False) -> torch.Tensor:
        """The result [C, N] (call after `flush`): `length` samples, wrapped if a loop; a stopped take keeps what
        it made, unwrapped."""
        c = self.m.channels
        new = torch.cat(self.pcm, dim=-1) if self.pcm else torch.zeros(c, 0, device=self.m.device)
        out = new
        if self.keep_original and self.original is not None:
            rendered = torch.cat(self.bridge, dim=-1) if self.bridge else new[:, :0]
            out = splice(self.original.to(new.device), rendered, new)
        if stopped:
            return out
        if self.loop and out.shape[-1] > self.length:
            return wrap(out, self.length, min(self.overrun, out.shape[-1] - self.length))
        return out[:, : self.length]

    def raw(self) -> torch.Tensor:
        """The unwrapped result with its overrun (for tests and inspection)."""
        return self.audio(stopped=True)

    def run(self) -> torch.Tensor:
        """Step the session alone to the end; returns `audio()`."""
        for f in self.session:  # any family's stream yields frames
            self.push(f)
        self.flush()
        return self.audio()


def push_frames(pairs: list[tuple[Take, Frame]]) -> list[torch.Tensor]:
    """Frames of many takes -> per pair the new audio it finalised [C, n]. Takes that share a decoder bank are
    decoded together: one decoder call per round, a round holding each take's next frame (a take with several frames
    here, MAGNeT's segments, takes one round per frame)."""
    out: list[torch.Tensor | None] = [None] * len(pairs)
    rounds: list[list[int]] = []
    seen: dict[int, int] = {}
    for i, (take, _) in enumerate(pairs):
        r = seen.get(id(take), 0)
        seen[id(take)] = r + 1
        if r == len(rounds):
            rounds.append([])
        rounds[r].append(i)
    for members in rounds:
        by_bank: dict[int, list[int]] = {}
        for i in members:
            by_bank.setdefault(id(pairs[i][0].decoder.bank), []).append(i)
        for idx in by_bank.values():
            bank = pairs[idx[0]][0].decoder.bank
            pcm = bank.push([(pairs[i][0].decoder, pairs[i][1].codes[..., None]) for i in idx])
            for i, x in zip(idx, pcm):
                take = pairs[i][0]
                take.frames += 1
                out[i] = take._take(x)
    return out
