"""EnCodec (SEANet encoder/decoder + residual vector quantizer) in plain PyTorch.

Module names mirror transformers' `EncodecModel`, so a checkpoint's `audio_encoder.*` keys map one to one once
weight norm is folded into plain `weight` tensors (done by the loader). Convolutions of the 32 kHz model are
non-causal: each pads both sides (reflect), which is why an exact streaming decoder needs look-ahead.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import EncodecConfig
from .lm import Dense


def _derived(module: nn.Module, weights: tuple[torch.Tensor, ...], build, tag: object = None):
    """A value computed from `weights` (step matrices for streaming), cached on the module until those weights are
    replaced or moved (`.to()`), or `tag` (how it is built) changes. A change in place is seen only for tensors that
    keep a version counter: inference tensors keep none, so load new weights by replacing the parameters, not by
    copying into them."""
    def version(t: torch.Tensor) -> int:
        try:
            return t._version
        except RuntimeError:  # inference tensors keep no version counter
            return -1

    key = (tag, *((t.data_ptr(), version(t), t.device, t.dtype, tuple(t.shape)) for t in weights))
    cached = module.__dict__.get("_step_cache")
    if cached is None or cached[0] != key:
        module.__dict__["_step_cache"] = cached = (key, build())
    return cached[1]


def _dense(w: torch.Tensor, int8: bool = False, matmul: str | None = None):
    """A Dense (see lm.Dense) holding a copy of w [out, in]; int8: its int8 values (per output channel),
    activations quantized per call, one call per row (a stream's result does not depend on the streams decoded
    beside it); else on the CPU `matmul` (the model's choice, fixed at load: SEANetDecoder.use_matmul; None: oneDNN's
    plain inner product, as an unpacked Dense runs)."""

    d = Dense(w.shape[1], w.shape[0]).to(device=w.device, dtype=w.dtype)
    d.weight = nn.Parameter(w.detach().contiguous().clone(), requires_grad=False)
    if int8:
        d.set_int8(*d.int8_of_weight())
    elif matmul is not None:
        d.pack(matmul)
    return d


def pad1d(x: torch.Tensor, left: int, right: int, mode: str) -> torch.Tensor:
    """F.pad that also reflects inputs shorter than the pad (zero-extends first, as EnCodec does)."""
    if mode != "reflect":
        return F.pad(x, (left, right), mode=mode)
    length = x.shape[-1]
    extra = 0
    if length <= max(left, right):
        extra = max(left, right) - length + 1
        x = F.pad(x, (0, extra))
    y = F.pad(x, (left, right), mode="reflect")
    return y[..., : y.shape[-1] - extra]


class SConv1d(nn.Module):
    """Conv1d with EnCodec's 'same' padding: total k_eff - stride, split left-heavy, plus right padding so the
    last window is complete."""

    def __init__(self, cfg: EncodecConfig, cin: int, cout: int, kernel: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, kernel, stride, dilation=dilation)
        self.causal = cfg.use_causal_conv
        self.pad_mode = cfg.pad_mode
        self.stride = stride
        self.kernel_eff = (kernel - 1) * dilation + 1
        self.padding_total = self.kernel_eff - stride
        # left/right split of padding_total (right gets the smaller half unless causal)
        self.pad_right = 0 if self.causal else self.padding_total // 2
        self.pad_left = self.padding_total - self.pad_right

    def extra_padding(self, length: int) -> int:
        n_frames = (length - self.kernel_eff + self.padding_total) / self.stride + 1
        ideal = (math.ceil(n_frames) - 1) * self.stride + self.kernel_eff - self.padding_total
        return ideal - length

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [B, C, T]
        extra = self.extra_padding(x.shape[-1])
        x = pad1d(x, self.pad_left, self.pad_right + extra, self.pad_mode)
        return self.conv(x)


class SConvTranspose1d(nn.Module):
    """ConvTranspose1d whose output is trimmed by kernel - stride (right gets the smaller half unless causal)."""

    def __init__(self, cfg: EncodecConfig, cin: int, cout: int, kernel: int, stride: int):
        super().__init__()
        self.conv = nn.ConvTranspose1d(cin, cout, kernel, stride)
        self.stride = stride
        self.kernel = kernel
        total = kernel - stride
        self.trim_right = total if cfg.use_causal_conv else total // 2
        self.trim_left = total - self.trim_right

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return y[..., self.trim_left : y.shape[-1] - self.trim_right]

    int8 = False  # streaming in int8 (SEANetDecoder.quantize_steps)
    matmul: str | None = None  # the CPU matmul streaming runs in float (SEANetDecoder.use_matmul)

    def step_matrix(self):
        """The convolution as one matmul for streaming: [n, Cin] -> [n, Cout * kernel]."""
        w = self.conv.weight
        return _derived(self, (w,), lambda: _dense(w.reshape(self.conv.in_channels, -1).t(), self.int8, self.matmul),
                        (self.int8, self.matmul))


class SLSTM(nn.Module):
    """Unidirectional LSTM over [B, C, T] with a skip connection."""

    def __init__(self, cfg: EncodecConfig, dim: int):
        super().__init__()
        self.lstm = nn.LSTM(dim, dim, cfg.num_lstm_layers)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None):
        y = x.permute(2, 0, 1)  # [T, B, C]
        out, new_state = self.lstm(y, state)
        return (out + y).permute(1, 2, 0), new_state

    int8 = False  # streaming in int8 (SEANetDecoder.quantize_steps)
    matmul: str | None = None  # the CPU matmul streaming runs in float (SEANetDecoder.use_matmul)

    def step_weights(self) -> list:
        """Per layer (Dense over [x, h] -> 4H gates, bias [4H]) for single steps: calling nn.LSTM once per frame
        re-prepares its weights each call and is ~10x slower."""
        lstm = self.lstm
        ws = tuple(getattr(lstm, f"{n}_l{i}") for i in range(lstm.num_layers)
                   for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

        def build() -> list:
            return [(_dense(torch.cat([getattr(lstm, f"weight_ih_l{i}"), getattr(lstm, f"weight_hh_l{i}")], dim=1),
                            self.int8, self.matmul),
                     (getattr(lstm, f"bias_ih_l{i}") + getattr(lstm, f"bias_hh_l{i}")).detach())
                    for i in range(lstm.num_layers)]

        return _derived(self, ws, build, (self.int8, self.matmul))


class ResBlock(nn.Module):
    """SEANet residual block: ELU, conv k (dilated), ELU, conv 1; identity or 1x1 shortcut."""

    def __init__(self, cfg: EncodecConfig, dim: int, dilations: tuple[int, int]):
        super().__init__()
        hidden = dim // cfg.compress
        kernels = (cfg.residual_kernel_size, 1)
        block: list[nn.Module] = []
        for i, (k, d) in enumerate(zip(kernels, dilations)):
            cin = dim if i == 0 else hidden
            cout = dim if i == len(kernels) - 1 else hidden
            block += [nn.ELU(), SConv1d(cfg, cin, cout, k, dilation=d)]
        self.block = nn.ModuleList(block)
        self.shortcut: nn.Module = SConv1d(cfg, dim, dim, 1) if cfg.use_conv_shortcut else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for layer in self.block:
            y = layer(y)
        return self.shortcut(x) + y


class SEANetEncoder(nn.Module):
    def __init__(self, cfg: EncodecConfig):
        super().__init__()
        layers: list[nn.Module] = [SConv1d(cfg, cfg.audio_channels, cfg.num_filters, cfg.kernel_size)]
        scale = 1
        for ratio in reversed(cfg.upsampling_ratios):
            dim = scale * cfg.num_filters
            for j in range(cfg.num_residual_layers):
                layers.append(ResBlock(cfg, dim, (cfg.dilation_growth_rate**j, 1)))
            layers += [nn.ELU(), SConv1d(cfg, dim, dim * 2, ratio * 2, stride=ratio)]
            scale *= 2
        layers += [SLSTM(cfg, scale * cfg.num_filters), nn.ELU()]
        layers.append(SConv1d(cfg, scale * cfg.num_filters, cfg.hidden_size, cfg.last_kernel_size))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, 1, N] -> [B, D, T]
        for layer in self.layers:
            x = layer(x)[0] if isinstance(layer, SLSTM) else layer(x)
        return x


class SEANetDecoder(nn.Module):
    def __init__(self, cfg: EncodecConfig):
        super().__init__()
        scale = 2 ** len(cfg.upsampling_ratios)
        layers: list[nn.Module] = [SConv1d(cfg, cfg.hidden_size, scale * cfg.num_filters, cfg.kernel_size)]
        layers.append(SLSTM(cfg, scale * cfg.num_filters))
        for ratio in cfg.upsampling_ratios:
            dim = scale * cfg.num_filters
            layers += [nn.ELU(), SConvTranspose1d(cfg, dim, dim // 2, ratio * 2, ratio)]
            for j in range(cfg.num_residual_layers):
                layers.append(ResBlock(cfg, dim // 2, (cfg.dilation_growth_rate**j, 1)))
            scale //= 2
        layers += [nn.ELU(), SConv1d(cfg, cfg.num_filters, cfg.audio_channels, cfg.last_kernel_size)]
        self.layers = nn.ModuleList(layers)

    def quantize_steps(self) -> None:
        """Stream in int8 (an int8 model on the CPU): the LSTM's and the transposed convolutions' step matrices,
        which a frame's decode reads whole (~100 MB in float32 for the 32 kHz codec, most of its time), become int8
        (built here, not at a stream's first frame). The offline decode keeps float32."""
        for m in self.modules():
            if isinstance(m, SLSTM):
                m.int8 = True
                m.step_weights()
            elif isinstance(m, SConvTranspose1d):
                m.int8 = True
                if m.kernel == 2 * m.stride:  # (other shapes stream through conv_transpose1d, in float)
                    m.step_matrix()

    def use_matmul(self, kernel: str | None) -> None:
        """Stream the LSTM's and the transposed convolutions' float step matrices through `kernel` (lm.Dense.pack;
        the model's choice, fixed at load). Built lazily, at a stream's first frame, on whatever thread decodes:
        were the choice made there, it would follow that thread's count, and a take's bits with it."""
        for m in self.modules():
            if isinstance(m, (SLSTM, SConvTranspose1d)):
                m.matmul = kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, D, T] -> [B, 1, T * hop]
        for layer in self.layers:
            x = layer(x)[0] if isinstance(layer, SLSTM) else layer(x)
        return x


class Codebook(nn.Module):
    def __init__(self, cfg: EncodecConfig):
        super().__init__()
        self.embed = nn.Parameter(torch.zeros(cfg.codebook_size, cfg.codebook_dim), requires_grad=False)

    def encode(self, x: torch.Tensor) -> torch.Tensor:  # x: [N, D] -> [N] nearest entry
        embed = self.embed.t()
        dist = -(x.pow(2).sum(1, keepdim=True) - 2 * x @ embed + embed.pow(2).sum(0, keepdim=True))
        return dist.max(dim=-1).indices


class VQLayer(nn.Module):
    def __init__(self, cfg: EncodecConfig):
        super().__init__()
        self.codebook = Codebook(cfg)


class ResidualVQ(nn.Module):
    def __init__(self, cfg: EncodecConfig):
        super().__init__()
        self.layers = nn.ModuleList([VQLayer(cfg) for _ in range(cfg.num_quantizers)])

    def encode(self, emb: torch.Tensor) -> torch.Tensor:  # emb: [B, D, T] -> codes [B, K, T]
        residual = emb.transpose(1, 2)  # [B, T, D]
        codes = []
        for layer in self.layers:
            b, t, d = residual.shape
            idx = layer.codebook.encode(residual.reshape(-1, d)).view(b, t)
            residual = residual - F.embedding(idx, layer.codebook.embed)
            codes.append(idx)
        return torch.stack(codes, dim=1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:  # codes: [B, K, T] -> [B, D, T]
        out = F.embedding(codes[:, 0], self.layers[0].codebook.embed)
        for k in range(1, codes.shape[1]):
            out = out + F.embedding(codes[:, k], self.layers[k].codebook.embed)
        return out.transpose(1, 2)


class Encodec(nn.Module):
    """The audio codec. `encode` and `decode` work on one audio channel per batch row."""

    def __init__(self, cfg: EncodecConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = SEANetEncoder(cfg)
        self.decoder = SEANetDecoder(cfg)
        self.quantizer = ResidualVQ(cfg)

    @torch.inference_mode()
    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        """wav: [B, 1, N] at cfg.sampling_rate -> codes [B, K, ceil(N / hop)]."""
        return self.quantizer.encode(self.encoder(wav))

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes: [B, K, T] -> wav [B, 1, T * hop]."""
        return self.decoder(self.quantizer.decode(codes))
