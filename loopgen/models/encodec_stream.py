"""Exact incremental decoding for EnCodec's (non-causal) SEANet decoder.

Each layer carries its own typed streaming state and emits every output sample as soon as no later input can change
it; `flush` ends the stream with the right-hand padding the offline decoder would apply. Concatenated over a stream,
the output equals `SEANetDecoder.forward` on the whole input (up to float summation order), for any chunking.

- stride-1 convolution, pad (L, R): holds the last L + R padded inputs; output lags input by R samples. The reflect
  padding on the left is built once L + 1 inputs exist; on the right at flush. Streams shorter than that are decoded
  offline at flush (a handful of samples).
- transposed convolution, stride s, kernel k: inputs 0..n-1 finalise outputs below n * s; the k - s overlapping
  samples are carried as a tail. The left trim is dropped from the first outputs, the right trim at flush.
- LSTM: carries (h, c).
- residual block: the skip branch is held back until the convolution branch catches up.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .encodec import ResBlock, SConv1d, SConvTranspose1d, SEANetDecoder, SLSTM


def _cat(a: torch.Tensor | None, b: torch.Tensor) -> torch.Tensor:
    return b if a is None else torch.cat([a, b], dim=-1)


@dataclass
class ConvState:
    pending: torch.Tensor | None = None  # [B, C, <= L+R] padded inputs still needed by future outputs
    stash: torch.Tensor | None = None  # [B, C, < L+1] inputs before the left reflection can be built
    started: bool = False


@dataclass
class ConvTrState:
    tail: torch.Tensor | None = None  # [B, C, k - s] partial sums (no bias) of outputs not yet final
    to_trim: int = 0  # left-trim samples still to drop


@dataclass
class LSTMState:
    h: list[torch.Tensor] | None = None  # per LSTM layer [B, H]
    c: list[torch.Tensor] | None = None


def _dense(w: torch.Tensor):
    """A packed Dense (see lm.Dense) holding a copy of w [out, in]."""
    from .lm import Dense

    d = Dense(w.shape[1], w.shape[0])
    d.weight = nn.Parameter(w.detach().contiguous().clone(), requires_grad=False)
    d.pack()
    return d


class LSTMStepper:
    """nn.LSTM's weights arranged for single steps: per layer one [4H, 2H] matmul over [x, h] (through Dense, so
    oneDNN-packed on CPU). Calling nn.LSTM once per frame re-prepares its weights each call and is ~10x slower."""

    def __init__(self, lstm: nn.LSTM):
        self.layers = []
        for i in range(lstm.num_layers):
            d = _dense(torch.cat([getattr(lstm, f"weight_ih_l{i}"), getattr(lstm, f"weight_hh_l{i}")], dim=1))
            bias = (getattr(lstm, f"bias_ih_l{i}") + getattr(lstm, f"bias_hh_l{i}")).detach()
            self.layers.append((d, bias))
        self.hidden = lstm.hidden_size

    def run(self, st: LSTMState, x: torch.Tensor) -> torch.Tensor:
        """x: [T, B, H] -> [T, B, H] (the LSTM output, before the skip connection)."""
        if st.h is None:
            zeros = x.new_zeros(x.shape[1], self.hidden)
            st.h = [zeros] * len(self.layers)
            st.c = [zeros] * len(self.layers)
        outs = []
        for t in range(x.shape[0]):
            y = x[t]
            for i, (dense, bias) in enumerate(self.layers):
                gates = dense(torch.cat([y, st.h[i]], dim=1)) + bias
                ig, fg, gg, og = gates.chunk(4, dim=1)
                st.c[i] = torch.sigmoid(fg) * st.c[i] + torch.sigmoid(ig) * torch.tanh(gg)
                st.h[i] = y = torch.sigmoid(og) * torch.tanh(st.c[i])
            outs.append(y)
        return torch.stack(outs)


@dataclass
class ResState:
    block: list = field(default_factory=list)  # states of the block's layers
    shortcut: object = None
    skip: torch.Tensor | None = None  # [B, C, n] skip-branch samples waiting for the conv branch


def new_state(layer: nn.Module):
    if isinstance(layer, SConv1d):
        if layer.causal or layer.stride != 1:
            raise ValueError("streaming supports the non-causal stride-1 convolutions of EnCodec's decoder")
        return ConvState()
    if isinstance(layer, SConvTranspose1d):
        return ConvTrState(to_trim=layer.trim_left)
    if isinstance(layer, SLSTM):
        return LSTMState()  # its step weights live on the module (see StreamingSEANet)
    if isinstance(layer, ResBlock):
        return ResState(block=[new_state(m) for m in layer.block], shortcut=new_state(layer.shortcut))
    return None  # stateless: ELU, Identity


def _pads(layer: SConv1d, x: torch.Tensor, left: bool) -> torch.Tensor:
    n = layer.pad_left if left else layer.pad_right
    if n == 0:
        return x[..., :0]
    if layer.pad_mode == "reflect":
        return x[..., 1 : n + 1].flip(-1) if left else x[..., -n - 1 : -1].flip(-1)
    return torch.zeros(*x.shape[:-1], n, dtype=x.dtype, device=x.device)


def push(layer: nn.Module, st, x: torch.Tensor) -> torch.Tensor:
    """Feed x [B, C, n] (n >= 0) into one layer; return the outputs that are now final."""
    if isinstance(layer, SConv1d):
        if not st.started:
            st.stash = _cat(st.stash, x)
            if st.stash.shape[-1] < layer.pad_left + 1:
                return x[..., :0].new_zeros(*x.shape[:-2], layer.conv.out_channels, 0)
            x, st.stash, st.started = st.stash, None, True
            st.pending = torch.cat([_pads(layer, x, left=True), x], dim=-1)
        else:
            st.pending = _cat(st.pending, x)
        n_out = st.pending.shape[-1] - (layer.kernel_eff - 1)
        if n_out <= 0:
            return x.new_zeros(*x.shape[:-2], layer.conv.out_channels, 0)
        y = layer.conv(st.pending[..., : n_out + layer.kernel_eff - 1])
        st.pending = st.pending[..., n_out:]
        return y
    if isinstance(layer, SConvTranspose1d):
        n = x.shape[-1]
        if n == 0:
            return x.new_zeros(*x.shape[:-2], layer.conv.out_channels, 0)
        s, k = layer.stride, layer.kernel
        if k == 2 * s:  # each output block of s samples = this input's first half + the previous input's second
            b, cin, _ = x.shape
            z = layer._stepper(x.transpose(1, 2)).view(b, n, -1, k)  # [B, n, Cout, k]
            first, second = z[..., :s], z[..., s:]
            prev = second[:, :-1]
            if st.tail is not None:
                prev = torch.cat([st.tail.view(b, 1, -1, s), prev], dim=1)
            else:
                prev = F.pad(prev, (0, 0, 0, 0, 1, 0))
            out = (first + prev).permute(0, 2, 1, 3).reshape(b, -1, n * s)
            st.tail = second[:, -1].contiguous()  # [B, Cout, s]
        else:
            y = F.conv_transpose1d(x, layer.conv.weight, None, s)  # [B, C, (n-1)*s + k]
            if st.tail is not None:
                y[..., : k - s] += st.tail
            st.tail = y[..., n * s :].clone()
            out = y[..., : n * s]
        if layer.conv.bias is not None:
            out = out + layer.conv.bias[:, None]
        drop = min(st.to_trim, out.shape[-1])
        st.to_trim -= drop
        return out[..., drop:]
    if isinstance(layer, SLSTM):
        if x.shape[-1] == 0:
            return x
        y = x.permute(2, 0, 1)  # [T, B, C]
        return (layer._stepper.run(st, y) + y).permute(1, 2, 0)
    if isinstance(layer, ResBlock):
        y = x
        for m, s in zip(layer.block, st.block):
            y = push(m, s, y)
        st.skip = _cat(st.skip, push(layer.shortcut, st.shortcut, x))
        n = y.shape[-1]
        out = st.skip[..., :n] + y
        st.skip = st.skip[..., n:]
        return out
    return layer(x)  # ELU / Identity


def flush(layer: nn.Module, st, like: torch.Tensor) -> torch.Tensor | None:
    """End of stream for one layer: its remaining outputs, or None for a layer that holds nothing back.
    `like` gives batch, dtype and device."""
    if isinstance(layer, SConv1d):
        if not st.started:
            if st.stash is None:
                return like.new_zeros(like.shape[0], layer.conv.out_channels, 0)
            return layer(st.stash)  # too short to stream: the offline path, padding quirks included
        tail = torch.cat([st.pending, _pads(layer, st.pending, left=False)], dim=-1)
        st.pending = None
        if tail.shape[-1] < layer.kernel_eff:  # a 1x1 convolution holds nothing
            return like.new_zeros(like.shape[0], layer.conv.out_channels, 0)
        return layer.conv(tail)
    if isinstance(layer, SConvTranspose1d):
        if st.tail is None:
            return like.new_zeros(like.shape[0], layer.conv.out_channels, 0)
        out = st.tail[..., : st.tail.shape[-1] - layer.trim_right]
        if layer.conv.bias is not None:
            out = out + layer.conv.bias[:, None]
        drop = min(st.to_trim, out.shape[-1])
        st.tail = None
        return out[..., drop:]
    if isinstance(layer, ResBlock):
        y = flush_chain(list(layer.block), st.block, like)
        if st.skip is None:
            return y
        out = st.skip[..., : y.shape[-1]] + y
        st.skip = None
        return out
    return None  # ELU, Identity, LSTM: nothing held back


def push_chain(layers: list[nn.Module], states: list, x: torch.Tensor) -> torch.Tensor:
    for m, s in zip(layers, states):
        x = push(m, s, x)
    return x


def flush_chain(layers: list[nn.Module], states: list, like: torch.Tensor) -> torch.Tensor:
    """Flush each layer in turn, feeding what the layers before it released."""
    out: torch.Tensor | None = None
    for m, s in zip(layers, states):
        if out is not None and out.shape[-1] > 0:
            out = push(m, s, out)
        rest = flush(m, s, like)
        if rest is None:
            continue
        out = rest if out is None or out.shape[-1] == 0 else torch.cat([out, rest], dim=-1)
    return out if out is not None else like.new_zeros(like.shape[0], 1, 0)


@dataclass
class DecoderStreamState:
    layers: list  # one state per decoder layer (None for stateless ones)
    frames_in: int = 0
    samples_out: int = 0


class StreamingSEANet:
    """Drives a `SEANetDecoder` incrementally. Latents [B, D, t] in, final PCM [B, 1, n] out."""

    def __init__(self, decoder: SEANetDecoder):
        self.decoder = decoder
        self.layers = list(decoder.layers)
        for m in self.layers:  # step weights, built once per codec; a plain attribute, so not in its state_dict
            if getattr(m, "_stepper", None) is not None:
                continue
            if isinstance(m, SLSTM):
                object.__setattr__(m, "_stepper", LSTMStepper(m.lstm))
            elif isinstance(m, SConvTranspose1d):
                object.__setattr__(m, "_stepper", _dense(m.conv.weight.reshape(m.conv.in_channels, -1).t()))

    def new_state(self) -> DecoderStreamState:
        return DecoderStreamState(layers=[new_state(m) for m in self.layers])

    @torch.inference_mode()
    def push(self, st: DecoderStreamState, latents: torch.Tensor) -> torch.Tensor:
        out = push_chain(self.layers, st.layers, latents)
        st.frames_in += latents.shape[-1]
        st.samples_out += out.shape[-1]
        return out

    @torch.inference_mode()
    def flush(self, st: DecoderStreamState, like: torch.Tensor) -> torch.Tensor:
        out = flush_chain(self.layers, st.layers, like)
        st.samples_out += out.shape[-1]
        return out

    def latency_samples(self) -> int:
        """Output samples held back once the stream is running, derived from the layer shapes: each stride-1
        convolution holds its right padding, each transposed convolution its left trim (at its own rate)."""
        lag = 0
        for m in self.layers:
            if isinstance(m, SConv1d):
                lag += m.pad_right
            elif isinstance(m, SConvTranspose1d):
                lag = lag * m.stride + m.trim_left
            elif isinstance(m, ResBlock):
                lag += sum(c.pad_right for c in m.block if isinstance(c, SConv1d))
        return lag
