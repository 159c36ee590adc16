"""Exact incremental decoding for EnCodec's (non-causal) SEANet decoder.

Each decoder layer has a streaming counterpart here that owns its state: fixed-size tensors allocated by `reset`
(with the layer's current device and dtype) and updated in place. Every output sample is emitted as soon as no later
input can change it; `flush` ends the stream with the right-hand padding the offline decoder would apply.
Concatenated over a stream, the output equals `SEANetDecoder.forward` on the whole input (up to float summation
order), for any chunking.

- stride-1 convolution, pad (L, R): holds the last L + R padded inputs; output lags input by R samples. The reflect
  padding on the left is built once L + 1 inputs exist (they wait in a stash); on the right at flush. Streams shorter
  than that are decoded offline at flush (a handful of samples).
- transposed convolution, stride s, kernel k: inputs 0..n-1 finalise outputs below n * s; the k - s overlapping
  samples are carried as a tail. The left trim is dropped from the first outputs, the right trim at flush.
- LSTM: carries (h, c) per layer.
- residual block: the skip branch waits (at most L + R samples) until the convolution branch catches up.

The streaming modules hold the codec's layers without registering them (no second copy in any state_dict); the step
weights (LSTM gates, transposed-convolution matrices) come from the layers themselves, rebuilt after `.to()`.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

import torch
from torch import nn

from .encodec import ResBlock, SConv1d, SConvTranspose1d, SEANetDecoder, SLSTM


def _empty(like: torch.Tensor, channels: int) -> torch.Tensor:
    return like.new_zeros(like.shape[0], channels, 0)


@dataclass
class ConvState:
    stash: torch.Tensor  # [B, C, L + 1] inputs before the left reflection can be built
    have: int  # inputs in the stash
    buf: torch.Tensor  # [B, C, L + R] the last padded inputs future outputs need
    started: bool = False


class StreamConv(nn.Module):
    """A stride-1 SConv1d, streamed."""

    def __init__(self, layer: SConv1d):
        super().__init__()
        if layer.causal or layer.stride != 1:
            raise ValueError("streaming supports the non-causal stride-1 convolutions of EnCodec's decoder")
        self.layers = [layer]  # a plain list: the codec owns the layer
        self.state: ConvState | None = None

    def reset(self, batch: int) -> None:
        layer = self.layers[0]
        w = layer.conv.weight
        c = layer.conv.in_channels
        self.state = ConvState(w.new_zeros(batch, c, layer.pad_left + 1), 0, w.new_zeros(batch, c, layer.kernel_eff - 1))

    def _reflect(self, x: torch.Tensor, left: bool) -> torch.Tensor:
        layer = self.layers[0]
        n = layer.pad_left if left else layer.pad_right
        if n == 0:
            return x[..., :0]
        if layer.pad_mode == "reflect":
            return x[..., 1 : n + 1].flip(-1) if left else x[..., -n - 1 : -1].flip(-1)
        return x.new_zeros(*x.shape[:-1], n)

    def push(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, C, n] -> the outputs that are now final."""
        layer, st = self.layers[0], self.state
        if not st.started:
            take = min(x.shape[-1], st.stash.shape[-1] - st.have)
            st.stash[..., st.have : st.have + take] = x[..., :take]
            st.have += take
            if st.have < st.stash.shape[-1]:
                return _empty(x, layer.conv.out_channels)
            st.started = True
            full = torch.cat([self._reflect(st.stash, left=True), st.stash, x[..., take:]], dim=-1)
        else:
            full = torch.cat([st.buf, x], dim=-1)
        k = layer.kernel_eff
        if k > 1:
            st.buf.copy_(full[..., full.shape[-1] - (k - 1) :])
        if full.shape[-1] < k:
            return _empty(x, layer.conv.out_channels)
        return layer.conv(full)

    def flush(self, like: torch.Tensor) -> torch.Tensor:
        layer, st = self.layers[0], self.state
        if not st.started:
            if st.have == 0:
                return _empty(like, layer.conv.out_channels)
            return layer(st.stash[..., : st.have])  # too short to stream: the offline path, padding quirks included
        if layer.kernel_eff == 1:  # a 1x1 convolution holds nothing
            return _empty(like, layer.conv.out_channels)
        return layer.conv(torch.cat([st.buf, self._reflect(st.buf, left=False)], dim=-1))


@dataclass
class ConvTrState:
    tail: torch.Tensor  # [B, Cout, k - s] partial sums (no bias) of outputs not yet final
    to_trim: int  # left-trim samples still to drop
    pushed: bool = False


class StreamConvTr(nn.Module):
    """An SConvTranspose1d, streamed."""

    def __init__(self, layer: SConvTranspose1d):
        super().__init__()
        self.layers = [layer]
        self.state: ConvTrState | None = None

    def reset(self, batch: int) -> None:
        layer = self.layers[0]
        w = layer.conv.weight
        self.state = ConvTrState(w.new_zeros(batch, layer.conv.out_channels, layer.kernel - layer.stride), layer.trim_left)

    def push(self, x: torch.Tensor) -> torch.Tensor:
        layer, st = self.layers[0], self.state
        n = x.shape[-1]
        if n == 0:
            return _empty(x, layer.conv.out_channels)
        st.pushed = True
        s, k = layer.stride, layer.kernel
        b = x.shape[0]
        if k == 2 * s:  # each output block of s samples = this input's first half + the previous input's second
            z = layer.step_matrix()(x.transpose(1, 2)).view(b, n, -1, k)  # [B, n, Cout, k]
            first, second = z[..., :s], z[..., s:]
            prev = torch.cat([st.tail.view(b, 1, -1, s), second[:, :-1]], dim=1)
            out = (first + prev).permute(0, 2, 1, 3).reshape(b, -1, n * s)
            st.tail.copy_(second[:, -1])
        else:
            y = torch.nn.functional.conv_transpose1d(x, layer.conv.weight, None, s)  # [B, C, (n-1)*s + k]
            y[..., : k - s] += st.tail
            st.tail.copy_(y[..., n * s :])
            out = y[..., : n * s]
        if layer.conv.bias is not None:
            out = out + layer.conv.bias[:, None]
        drop = min(st.to_trim, out.shape[-1])
        st.to_trim -= drop
        return out[..., drop:]

    def flush(self, like: torch.Tensor) -> torch.Tensor:
        layer, st = self.layers[0], self.state
        if not st.pushed:
            return _empty(like, layer.conv.out_channels)
        out = st.tail[..., : st.tail.shape[-1] - layer.trim_right]
        if layer.conv.bias is not None:
            out = out + layer.conv.bias[:, None]
        return out[..., min(st.to_trim, out.shape[-1]) :]


@dataclass
class LSTMState:
    batch_dim: ClassVar[int] = 1
    h: torch.Tensor  # [layers, B, H]
    c: torch.Tensor  # [layers, B, H]


class StreamLSTM(nn.Module):
    """An SLSTM stepped one sample at a time through its step weights (one [4H, 2H] matmul per layer)."""

    def __init__(self, layer: SLSTM):
        super().__init__()
        self.layers = [layer]
        self.state: LSTMState | None = None

    def reset(self, batch: int) -> None:
        lstm = self.layers[0].lstm
        w = lstm.weight_ih_l0
        shape = (lstm.num_layers, batch, lstm.hidden_size)
        self.state = LSTMState(w.new_zeros(shape), w.new_zeros(shape))

    def push(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] == 0:
            return x
        st = self.state
        steps = self.layers[0].step_weights()
        y = x.permute(2, 0, 1)  # [T, B, C]
        outs = []
        for t in range(y.shape[0]):
            h = y[t]
            for i, (dense, bias) in enumerate(steps):
                gates = dense(torch.cat([h, st.h[i]], dim=1)) + bias
                ig, fg, gg, og = gates.chunk(4, dim=1)
                st.c[i].copy_(torch.sigmoid(fg) * st.c[i] + torch.sigmoid(ig) * torch.tanh(gg))
                h = torch.sigmoid(og) * torch.tanh(st.c[i])
                st.h[i].copy_(h)
            outs.append(h)
        return (torch.stack(outs) + y).permute(1, 2, 0)

    def flush(self, like: torch.Tensor) -> None:
        return None  # nothing held back


class StreamELU(nn.Module):
    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layers = [layer]

    def reset(self, batch: int) -> None:
        pass

    def push(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers[0](x)

    def flush(self, like: torch.Tensor) -> None:
        return None


@dataclass
class ResState:
    skip: torch.Tensor  # [B, C, L + R + 1] skip-branch samples waiting for the convolution branch
    have: int


class StreamRes(nn.Module):
    """A SEANet residual block: its convolution branch streamed, the skip branch held back to match."""

    def __init__(self, layer: ResBlock):
        super().__init__()
        self.layers = [layer]
        self.block = nn.ModuleList([streaming(m) for m in layer.block])
        self.shortcut = streaming(layer.shortcut)
        self.state: ResState | None = None

    def reset(self, batch: int) -> None:
        for m in (*self.block, self.shortcut):
            m.reset(batch)
        hold = sum(c.pad_left + c.pad_right + 1 for c in self.layers[0].block if isinstance(c, SConv1d))
        conv = next(c for c in self.layers[0].block if isinstance(c, SConv1d))
        self.state = ResState(conv.conv.weight.new_zeros(batch, conv.conv.in_channels, hold), 0)

    def push(self, x: torch.Tensor) -> torch.Tensor:
        st = self.state
        y = x
        for m in self.block:
            y = m.push(y)
        skip = torch.cat([st.skip[..., : st.have], self.shortcut.push(x)], dim=-1)
        n = y.shape[-1]
        rest = skip.shape[-1] - n
        st.skip[..., :rest] = skip[..., n:]
        st.have = rest
        return skip[..., :n] + y

    def flush(self, like: torch.Tensor) -> torch.Tensor:
        st = self.state
        y = flush_chain(list(self.block), like)
        return st.skip[..., : y.shape[-1]] + y


def streaming(layer: nn.Module) -> nn.Module:
    """The streaming counterpart of one decoder layer."""
    if isinstance(layer, SConv1d):
        return StreamConv(layer)
    if isinstance(layer, SConvTranspose1d):
        return StreamConvTr(layer)
    if isinstance(layer, SLSTM):
        return StreamLSTM(layer)
    if isinstance(layer, ResBlock):
        return StreamRes(layer)
    return StreamELU(layer)  # stateless: ELU, Identity


def flush_chain(layers: list[nn.Module], like: torch.Tensor) -> torch.Tensor:
    """Flush each layer in turn, feeding what the layers before it released."""
    out: torch.Tensor | None = None
    for m in layers:
        if out is not None and out.shape[-1] > 0:
            out = m.push(out)
        rest = m.flush(like)
        if rest is None:
            continue
        out = rest if out is None or out.shape[-1] == 0 else torch.cat([out, rest], dim=-1)
    return out if out is not None else like.new_zeros(like.shape[0], 1, 0)


class StreamingSEANet(nn.Module):
    """Drives a `SEANetDecoder` incrementally: latents [B, D, t] in, final PCM [B, 1, n] out. One per stream (or per
    batch of streams stepped together); `reset(batch)` before the first push."""

    def __init__(self, decoder: SEANetDecoder):
        super().__init__()
        self.decoder = [decoder]
        self.layers = nn.ModuleList([streaming(m) for m in decoder.layers])

    def reset(self, batch: int) -> None:
        """A new stream of `batch` rows: every layer's state, as views of one [batch, F] tensor (`flat`)."""
        for m in self.layers:
            m.reset(batch)
        states = [(st, f.name, getattr(st, "batch_dim", 0)) for st in self._states() for f in fields(st)
                  if isinstance(getattr(st, f.name), torch.Tensor)]
        moved = [getattr(st, name).movedim(d, 0) for st, name, d in states]  # [batch, ...] each
        self.flat = moved[0].new_zeros(batch, sum(t[0].numel() for t in moved))  # [B, F] all the state of a row
        off = 0
        for (st, name, d), t in zip(states, moved):
            n = t[0].numel()
            view = self.flat[:, off : off + n].view(t.shape).movedim(0, d)
            view.copy_(getattr(st, name))
            setattr(st, name, view)  # the layers update their state in place: the views stay live
            off += n

    @torch.inference_mode()
    def push(self, latents: torch.Tensor) -> torch.Tensor:
        out = latents
        for m in self.layers:
            out = m.push(out)
        return out

    @torch.inference_mode()
    def flush(self, like: torch.Tensor) -> torch.Tensor:
        return flush_chain(list(self.layers), like)

    # -- rows of many streams (see streaming.bank) --------------------------------------------------------------
    def _states(self) -> list:
        return [m.state for m in self.modules() if getattr(m, "state", None) is not None]

    def counters(self) -> tuple:
        """The non-tensor state (how far each layer is into its stream). Two streams with equal counters run the same
        code path on their next push, so their rows can be pushed together."""
        return tuple(tuple(getattr(st, f.name) for f in fields(st) if not isinstance(getattr(st, f.name), torch.Tensor))
                     for st in self._states())

    def set_counters(self, counters: tuple) -> None:
        for st, values in zip(self._states(), counters, strict=True):
            names = [f.name for f in fields(st) if not isinstance(getattr(st, f.name), torch.Tensor)]
            for name, value in zip(names, values, strict=True):
                setattr(st, name, value)

    def copy_rows(self, dst: torch.Tensor, src_net: "StreamingSEANet", src: torch.Tensor) -> None:
        """Rows `dst` of the state <- rows `src` of `src_net`'s (same decoder; counters not copied)."""
        self.flat.index_copy_(0, dst, src_net.flat.index_select(0, src))

    def latency_samples(self) -> int:
        """Output samples held back once the stream is running, derived from the layer shapes: each stride-1
        convolution holds its right padding, each transposed convolution its left trim (at its own rate)."""
        lag = 0
        for m in self.decoder[0].layers:
            if isinstance(m, SConv1d):
                lag += m.pad_right
            elif isinstance(m, SConvTranspose1d):
                lag = lag * m.stride + m.trim_left
            elif isinstance(m, ResBlock):
                lag += sum(c.pad_right for c in m.block if isinstance(c, SConv1d))
        return lag
