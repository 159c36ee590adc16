"""Incremental EnCodec decoding of many streams at once: one decoder call per frame for every stream that has one,
so the codec's weights are read once for all of them. (`IncrementalDecoder` decodes the rows of one stream in
lockstep; a bank holds streams that start, pause and end independently: the daemon's.)

A stream opens in a private decoder of its own: its first pushes take their own path through the layers (the left
reflection, the trims). Once its counters have reached the steady state that every running stream shares (after 4
frames of the 32 kHz codec), its next one-frame push moves its state into rows of the bank. From then on
`DecoderBank.push` steps all the bank's rows in one fixed-shape call: rows without a new frame are fed the last codes
written there, and their state is put back afterwards (one `torch.where` over the rows' flat state), so they are
untouched. Each stream's output equals its decode alone (and the offline decode) within float rounding, and bit for
bit where oneDNN takes the same kernels for both (a call has at least two rows for that; see docs/streaming.md).
`close` moves a stream back to a private decoder and flushes it there.

On the CPU an exact bank lets a stream that is alone (the only one open) run steady in its private decoder, one row
a call as the engine decodes, instead of paying for a second row: a move into the bank (another stream opened) and
back (it is alone again) is logged per stream (`BankStream.log`: [frame, rows], rows 2 in the bank, 1 alone) and a
take records it, so that `render --from` makes the same moves at the same frames (`BankStream.script`).
"""
from __future__ import annotations

import weakref
from bisect import bisect_right
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import LoopgenError
from ..models.encodec_stream import StreamingSEANet
from ..models.graphs import CudaGraphs, tensor_key
from ..models.base import CodecLM
from .decoder import codes_to_latents


_STEADY: weakref.WeakKeyDictionary[nn.Module, tuple] = weakref.WeakKeyDictionary()  # per codec decoder


@dataclass(eq=False)
class BankStream:
    """One stream of a bank. `push` / `flush` decode it alone with IncrementalDecoder's surface (codes [1, K, t] in,
    PCM [1, C, n] out); `DecoderBank.push` decodes many streams together. After `flush` a new stream starts."""

    bank: DecoderBank
    own: StreamingSEANet | None = None  # its private decoder while it warms up (made at its first push)
    slot: int = -1  # its rows in the bank once it runs steady (-1: private)
    pushed: int = 0  # frames pushed since it opened
    # [frame, rows] each time a steady stream moved into the bank (2) or out of it, alone (1); None where the bank
    # always banks a steady stream (not exact, or not on the CPU)
    log: list[list[int]] | None = None  # (begun at its first push)
    script: list[list[int]] | None = None  # a recorded `log` to follow instead of the bank's occupancy (a replay)

    def push(self, codes: torch.Tensor) -> torch.Tensor:
        return self.bank.push([(self, codes)])[0]

    def flush(self) -> torch.Tensor:
        return self.bank.close(self)


class DecoderBank:
    """Streams of one model's codec, `capacity` bank slots to start with (grown by doubling, given back when all
    streams have closed). Owned by one thread."""

    def __init__(self, m: CodecLM, capacity: int = 4, graphs: bool = False, exact: bool = True):
        """graphs: capture the batched push in CUDA graphs (a CUDA model only; see `models.graphs`). exact: at least
        two rows a call, as in a crowd (a one-row call runs other kernels, whose rounding differs), so that a take
        decoded here has the bits it has beside a few others and `render --from` remakes a daemon's take exactly (on
        the CPU a stream alone still takes one row, its moves logged: the module's docstring); False for a lone
        stream that no crowd's take must match (one row: cheaper on the CPU)."""
        self.m = m
        self._graphs = CudaGraphs(m.device) if graphs else None
        self.channels = m.channels
        self.capacity0 = max(capacity, -(-2 // self.channels) if exact else 1)
        self.solo = exact and m.device.type == "cpu"  # a stream alone decodes in one row (its moves logged)
        # the streams pushed to since they opened, by id (weakly: a stream dropped without `close` stops counting,
        # and its id cannot come back to a new stream while listed)
        self.open_streams: weakref.WeakValueDictionary[int, BankStream] = weakref.WeakValueDictionary()
        self.steady = self._steady_counters()
        self.calls = 0  # batched decoder calls so far (one per `push` with any banked stream)
        self._alloc(self.capacity0)

    def _fresh(self, rows: int) -> StreamingSEANet:
        net = StreamingSEANet(self.m.codec.decoder)
        net.reset(rows)
        return net

    def _steady_counters(self) -> tuple:
        """The counters of a running stream (found once per codec decoder: they follow from its layers alone)."""
        decoder = self.m.codec.decoder
        if decoder not in _STEADY:
            _STEADY[decoder] = self._find_steady()
        return _STEADY[decoder]

    def _find_steady(self) -> tuple:
        """Push silence frame by frame until a push leaves the counters unchanged twice."""
        net = self._fresh(1)
        latents = codes_to_latents(self.m, torch.zeros(1, self.m.num_codebooks, 1, dtype=torch.long,
                                                       device=self.m.device))[:1]
        seen = [net.counters()]
        for _ in range(64):
            net.push(latents)
            seen.append(net.counters())
            if len(seen) >= 3 and seen[-1] == seen[-2] == seen[-3]:
                return seen[-1]
        raise LoopgenError("the codec's streaming decoder never reaches a steady state")  # not for EnCodec's layers

    def _alloc(self, slots: int, keep: list[int] = ()) -> None:
        """(Re)allocate `slots` slots; the streams in slots `keep` (all < the new size) keep their state."""
        net = self._fresh(slots * self.channels)
        net.set_counters(self.steady)
        if keep:
            rows = self._rows(list(keep))
            net.copy_rows(rows, self.net, rows)
        self.net = net
        dev = self.m.device
        old = getattr(self, "codes", None)
        self.codes = torch.zeros(slots, self.m.num_codebooks, dtype=torch.long, device=dev)  # [S, K] latest codes
        if old is not None and keep:
            idx = torch.tensor(list(keep), device=dev)
            self.codes.index_copy_(0, idx, old.index_select(0, idx))
        self.live = torch.zeros(slots, dtype=torch.bool, device=dev)  # [S] slots with a new frame this call
        self.slot_index = torch.arange(slots, device=dev)  # [S]: a push's slots are gathered from it, on the device
        used = getattr(self, "used", [])
        self.used: list[BankStream | None] = [used[i] if i in keep else None for i in range(slots)]

    def _rows(self, slots: list[int]) -> torch.Tensor:
        """The decoder rows of `slots` (a slot holds one row per channel), made on the device from numbers (no copy
        from the host) for one slot, from a list on a growth."""
        c = self.channels
        if len(slots) == 1:
            return torch.arange(slots[0] * c, slots[0] * c + c, device=self.m.device)
        return torch.tensor([s * c + i for s in slots for i in range(c)], device=self.m.device)

    @property
    def slots(self) -> int:
        return len(self.used)

    def open(self) -> BankStream:
        """A new stream (private until it is steady)."""
        return BankStream(self)

    def _banked(self, s: BankStream) -> bool:
        """Whether steady `s` decodes in the bank now: always, but in a solo bank only while another stream is open
        (or, replaying, where its script says so)."""
        if not self.solo:
            return True
        if s.script is not None:  # the last move at or before this frame (none yet: alone)
            at = bisect_right(s.script, [s.pushed, 2])
            return at > 0 and s.script[at - 1][1] == 2
        return len(self.open_streams) > 1

    # -- pushing -------------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def push(self, items: list[tuple[BankStream, torch.Tensor]]) -> list[torch.Tensor]:
        """items: (stream, codes [1, K, t]) with each stream at most once -> per item the PCM [1, C, n] that is now
        final. All banked streams with one frame here are decoded in one call."""
        if len({id(s) for s, _ in items}) != len(items):
            raise LoopgenError("a stream may appear once per push (push its frames together or in turn)")
        out: list[torch.Tensor | None] = [None] * len(items)
        batched = []
        for s, _ in items:
            if s.bank is not self:
                raise LoopgenError("that stream belongs to another decoder bank")
            if id(s) not in self.open_streams:  # a stream opens (anew after a flush): its log starts here
                s.pushed, s.log = 0, ([] if self.solo else None)
                self.open_streams[id(s)] = s
        for i, (s, codes) in enumerate(items):
            one = codes.shape[-1] == 1
            banked = self._banked(s)
            if s.slot < 0 and one and s.own is not None and s.own.counters() == self.steady and banked:
                self._adopt(s)  # steady since its last push (so the push that made its first audio paid nothing)
                if s.log is not None:
                    s.log.append([s.pushed, 2])
            elif s.slot >= 0 and one and not banked:
                self._release(s)  # alone again: its own one-row decoder
                s.log.append([s.pushed, 1])
            s.pushed += codes.shape[-1]
            if s.slot >= 0 and one:
                batched.append(i)
            else:
                out[i] = self._alone(s, codes)
        if batched:
            pcm = self._step([items[i][0].slot for i in batched], [items[i][1][0, :, 0] for i in batched])
            for i in batched:
                out[i] = pcm[items[i][0].slot][None]
        return out

    def _alone(self, s: BankStream, codes: torch.Tensor) -> torch.Tensor:
        """A stream warming up in its private decoder (or several frames of a banked one, frame by frame)."""
        if s.slot >= 0:
            parts = [self._step([s.slot], [codes[0, :, j]])[s.slot][None] for j in range(codes.shape[-1])]
            return torch.cat(parts, dim=-1) if parts else self.net.flat.new_zeros(1, self.channels, 0)
        if s.own is None:
            s.own = self._fresh(self.channels)
        return s.own.push(codes_to_latents(self.m, codes)).reshape(1, self.channels, -1)

    def _step(self, slots: list[int], codes: list[torch.Tensor]) -> torch.Tensor:
        """One decoder call over every slot; only `slots` advance. Returns PCM [S, C, n] (rows of other slots are
        meaningless)."""
        idx = torch.cat([self.slot_index[s : s + 1] for s in slots])  # views of a device tensor: no host copy
        self.codes.index_copy_(0, idx, torch.stack(codes))
        self.live.zero_()
        self.live.index_fill_(0, idx, True)
        paused = len(slots) < self.slots  # known on the host: no device read
        flat = self.net.flat  # [S * C, F] every row's whole state

        def step() -> torch.Tensor:
            before = flat.clone() if paused else None
            pcm = self.net.push(codes_to_latents(self.m, self.codes[..., None]))  # [S * C, 1, n]
            if paused:  # rows without a frame get their state back
                rows = self.live[:, None].expand(-1, self.channels).reshape(-1, 1)  # [S * C, 1]
                flat.copy_(torch.where(rows, flat, before))
            return pcm

        if self._graphs is None:
            pcm = step()
        else:  # the graph's output memory is its next replay's: copied
            pcm = self._graphs.run((paused, tensor_key(flat, self.codes, self.live)), step).clone()
        self.calls += 1
        return pcm.reshape(self.slots, self.channels, -1)

    def _adopt(self, s: BankStream) -> None:
        if None not in self.used:
            self._alloc(2 * self.slots, keep=[i for i, u in enumerate(self.used) if u is not None])
        slot = self.used.index(None)
        self.net.copy_rows(self._rows([slot]), s.own, torch.arange(self.channels, device=self.m.device))
        self.used[slot], s.slot, s.own = s, slot, None

    def _release(self, s: BankStream) -> None:
        """Banked `s` back into a private decoder of its own, steady, with its state."""
        own = self._fresh(self.channels)
        own.set_counters(self.steady)
        own.copy_rows(torch.arange(self.channels, device=self.m.device), self.net, self._rows([s.slot]))
        self.used[s.slot], s.slot, s.own = None, -1, own
        self._shrink()

    def _shrink(self) -> None:
        if not any(self.used) and self.slots > self.capacity0:  # idle after a crowd: give the memory back
            self._alloc(self.capacity0)

    # -- ending --------------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def close(self, s: BankStream) -> torch.Tensor:
        """End of `s`'s stream: its last samples [1, C, n]. The stream then starts afresh (private)."""
        self.open_streams.pop(id(s), None)  # (its log stays readable until it opens again)
        if s.slot >= 0:
            self._release(s)
        own, s.own = s.own, None  # a next push starts a new stream
        if own is None:  # nothing was pushed
            return self.net.flat.new_zeros(1, self.channels, 0)
        return own.flush(own.flat.new_zeros(self.channels, 1, 0)).reshape(1, self.channels, -1)  # the codec's dtype
