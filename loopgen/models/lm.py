"""The MusicGen language model: a pre-LayerNorm transformer decoder over K parallel codebook streams.

Built for decoding speed: q/k/v are one matmul, the K output heads are one matmul, the cross-attention keys/values of
every layer come from one matmul once per prompt, and self-attention writes into a preallocated static KV cache by
position. The one-token `decode` has fixed shapes: positions are a device tensor, attention spans the cache under a
per-row mask, and rows that do not step write into a scratch slot, so `torch.compile(fullgraph=True)` and CUDA graphs
capture it once per batch size. `prefill` feeds many known tokens of chosen rows (window starts, prompts).
"""
from __future__ import annotations

import math
from collections.abc import Callable
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import LoopgenError
from .config import LMConfig
from .int8_store import Int8


# which rows of an int8 call share one activation scale (fbgemm's is per call): None, each row its own (one call per
# row: correct for any caller, slow); ALL_ROWS, all of them (one voice: a step alone, a prefill); else one index
# tensor per group (each stepping voice's rows)
Groups = tuple[torch.Tensor, ...] | None
ALL_ROWS: tuple = ()


def sinusoids(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """MusicGen's sinusoidal embedding: [cos | sin] halves, timescale 10000. positions: [T] -> [T, dim] float32."""
    half = dim // 2
    freqs = torch.exp(torch.arange(half, device=positions.device).float() * -(math.log(10000) / (half - 1)))
    args = positions.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb


def _as(t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """t in dtype; t itself, without a call into torch, where it already is (144 such calls a musicgen-small step)."""
    return t if t.dtype == dtype else t.to(dtype)


def int8_full_range() -> bool:
    """Whether fbgemm's int8 matmul is exact here with 8-bit activations. Without VNNI it adds pairs of u8 x s8
    products in int16, which saturates at full range, so such CPUs need 7-bit activations (`reduce_range`). Probed
    with values that would saturate (255 x 127, twice, past int16), not read from the CPU's flags (no /proc/cpuinfo
    on Windows or macOS)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (the quantized-tensor constructor is marked deprecated; see set_int8)
            w = torch._make_per_channel_quantized_tensor(torch.full((8, 64), 127, dtype=torch.int8, device="cpu"),
                                                         torch.ones(8, dtype=torch.double, device="cpu"),
                                                         torch.zeros(8, dtype=torch.long, device="cpu"), 0)
            packed = torch.ops.quantized.linear_prepack(w, None)
            y = torch.ops.quantized.linear_dynamic(torch.full((1, 64), 255.0, device="cpu"), packed, False)
        return bool((y == 64 * 255 * 127).all())
    except (AttributeError, RuntimeError):
        return False


# the CPU matmuls measured for each dtype (kernels.py). float32 keeps to oneDNN's two: its results do not depend on
# how many rows a call has (from two on), which batched streams' equality with streams alone relies on
KERNEL_DTYPES = {torch.float32: ("packed", "onednn"), torch.bfloat16: ("packed", "onednn", "linear")}
_ONEDNN = False  # oneDNN's inner product runs here: probed when the first layer is made, never at import
_REDUCE_RANGE: bool | None = None  # 7-bit int8 activations (int8_full_range): probed at the first int8 weight
_PROBED = False


def _probe_cpu() -> None:
    global _ONEDNN, _PROBED
    if not _PROBED:
        _PROBED = True
        from .kernels import runs

        _ONEDNN = runs("onednn", torch.float32)


class Dense(nn.Module):
    """A bias-free linear layer, weight [out, in] as nn.Linear's. On CPU in float32 it runs through oneDNN's
    inner product, which streams weights much faster than the default BLAS for the skinny (batch x dim) inputs of
    decoding; `pack()` also reorders the weight into oneDNN's blocked layout (faster still, same memory). A packed
    weight still saves and compares as a plain dense tensor in `state_dict`."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        _probe_cpu()
        self.weight = nn.Parameter(torch.empty(cout, cin))

    onednn = True  # class switch: False forces F.linear (the path CUDA and torch.compile take)
    int8 = None  # fbgemm packed int8 weight (see quantize), or None
    int8_out = 0  # its output features
    kernel: str | None = None  # the CPU matmul `pack` chose by measurement (kernels.py); None: not packed

    def forward(self, x: torch.Tensor, groups: Groups = None) -> torch.Tensor:
        """x [M, ..., in] -> [M, ..., out]. groups: for an int8 weight, which rows (along dim 0) share an activation
        scale (see Groups); ignored by float weights."""
        if self.int8 is not None:
            if groups is not None and not groups:  # ALL_ROWS, a voice alone: one call (the step's common case)
                return torch.ops.quantized.linear_dynamic(x, self.int8, _REDUCE_RANGE)
            return self._int8(x, groups)
        w = self.weight
        if w.is_mkldnn:
            return torch.ops.mkldnn._linear_pointwise(x, w, None, "none", [], "")
        kernel = self.kernel or ("onednn" if w.dtype == torch.float32 else "linear")
        if (kernel == "onednn" and Dense.onednn and _ONEDNN and w.device.type == "cpu"
                and not torch.compiler.is_compiling()):
            return torch.ops.mkldnn._linear_pointwise(x, w, None, "none", [], "")
        return F.linear(x, w)

    def _int8(self, x: torch.Tensor, groups: Groups) -> torch.Tensor:
        """int8 weights, activations quantized to int8 per call (dynamically), float32 out. fbgemm takes one scale
        for all of a call's rows, so a row's result depends on the rows beside it: a step calls it once per group
        of rows that are made again together (a voice's), a prefill once (one voice's rows, in the chunks a replay
        repeats; ALL_ROWS, which forward calls at once), and a caller that names no groups gets one call per row."""
        if groups is None:
            return torch.cat([torch.ops.quantized.linear_dynamic(x[i : i + 1], self.int8, _REDUCE_RANGE)
                              for i in range(x.shape[0])])
        out = x.new_zeros(x.shape[0], self.int8_out)  # rows in no group (not stepping): zeros
        for rows in groups:
            out.index_copy_(0, rows, torch.ops.quantized.linear_dynamic(x.index_select(0, rows), self.int8,
                                                                        _REDUCE_RANGE))
        return out

    # a step calls 145 projections: straight to forward, past nn.Module's hook dispatch (no hooks are put on a Dense)
    __call__ = forward

    @property
    def packed(self) -> bool:
        return self.weight.is_mkldnn or self.int8 is not None

    def int8_of_weight(self) -> tuple[torch.Tensor, torch.Tensor]:
        """int8 on the CPU: per-output-channel symmetric int8 values [out, in] and their float64 scales [out]."""
        w = (self.weight.to_dense() if self.weight.is_mkldnn else self.weight).detach().float()
        scale = (w.abs().amax(1).clamp(min=1e-8) / 127).double()
        return int8_values(w, scale), scale

    def set_int8(self, values: torch.Tensor, scale: torch.Tensor) -> None:
        """Run on int8 `values` [out, in] and `scale` [out] in fbgemm's packed layout, activations quantized
        dynamically per call (8-bit where fbgemm is exact with them, int8_full_range; 7-bit elsewhere). The float
        weight is dropped. Packing is single-threaded and releases the GIL: layers pack in parallel
        (MusicgenLM.quantize)."""
        global _REDUCE_RANGE
        if _REDUCE_RANGE is None:
            _REDUCE_RANGE = not int8_full_range()
        with warnings.catch_warnings():  # fbgemm's path is the fast one on the CPU today, though its quantized-tensor
            warnings.simplefilter("ignore")  # constructor is marked deprecated (docs/benchmarks.md weighs the options)
            q = torch._make_per_channel_quantized_tensor(values, scale, torch.zeros(values.shape[0], dtype=torch.long),
                                                         0)
            self.int8 = torch.ops.quantized.linear_prepack(q, None)
        self.int8_out = values.shape[0]
        self.weight = nn.Parameter(torch.empty(0), requires_grad=False)

    def unpack(self) -> None:
        """Back to a plain dense weight (torch.compile cannot trace oneDNN's packed layout)."""
        if self.int8 is not None:
            raise LoopgenError("an int8 model cannot be compiled: load it in float32 to compile")
        if self.weight.is_mkldnn:
            self.weight = nn.Parameter(self.weight.to_dense(), requires_grad=False)

    def pack(self, kernel: str) -> None:
        """On the CPU in float32 or bfloat16: run `kernel` (the model's choice, CodecLM.use_kernels; one its dtype
        does not offer in KERNEL_DTYPES: the fastest measured here, `cpu_kernel`), reordering the weight for oneDNN
        when that is it. A no-op elsewhere. Do not move the module after."""
        w = self.weight
        if not (_ONEDNN and Dense.onednn and not w.is_mkldnn and w.device.type == "cpu"
                and w.dtype in KERNEL_DTYPES):
            return
        self.kernel = cpu_kernel(w.dtype, kernel)
        if self.kernel == "packed":
            try:
                packed = torch.ops.mkldnn._reorder_linear_weight(w.detach(), None)
            except (AttributeError, RuntimeError):  # a build without the reorder: the plain layout still works
                self.kernel = "onednn"
                return
            self.weight = nn.Parameter(packed, requires_grad=False)

    def _save_to_state_dict(self, destination, prefix, keep_vars):  # noqa: ANN001
        w = self.weight
        if self.int8 is not None:  # the int8 weight, dequantized
            destination[prefix + "weight"] = torch.ops.quantized.linear_unpack(self.int8)[0].dequantize()
            return
        destination[prefix + "weight"] = w.to_dense() if w.is_mkldnn else (w if keep_vars else w.detach())


def cpu_kernel(dtype: torch.dtype, given: str | None = None) -> str | None:
    """The CPU matmul `dtype`'s float projections run: `given` (a take's record) where it is one of the dtype's
    candidates and runs here (kernels.runs), else the fastest measured on this machine at the current thread count
    (kernels.choose, cached); None where no choice applies (another dtype). A model fixes it once, at load
    (CodecLM.use_kernels): the last bits of a projection depend on it."""
    candidates = KERNEL_DTYPES.get(dtype)
    if candidates is None:
        return None
    from .kernels import choose, runs

    if given in candidates and runs(given, dtype):
        return given
    return choose(dtype, candidates=candidates)


def int8_values(w: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """w [out, in] float32, scale [out] -> round(w / scale) as int8: the values torch.quantize_per_channel gives (it
    multiplies by the float32 reciprocal), made with ordinary multithreaded ops (about twice as fast on 2 threads:
    int8 loads sooner)."""
    return torch.round(w * (1.0 / scale.float())[:, None]).clamp_(-128, 127).to(torch.int8)


ZERO_CHUNK = 64  # positions made ready at a time


@dataclass
class KVCache:
    """Decoding state of R LM rows, preallocated with fixed shapes. Row r's self-attention K/V for position p sit at
    [:, r, :, p]; slot `positions` (the last) is a scratch slot that rows not stepping write into. Cross attention
    K/V hold each row's text states, padded to `text` tokens and masked by `cross_bias`.

    Self-attention memory is allocated uninitialised (a 30 s window of musicgen-small is ~300 MB per row: zeroing it
    up front delays the first audio) and zeroed just ahead of use: positions below `ready` hold zeros or written
    values for every row, so a masked read (weight 0) never meets a NaN. Readers call `prepare(end)` first."""

    k: torch.Tensor  # [L, R, H, positions + 1, Dh]
    v: torch.Tensor  # [L, R, H, positions + 1, Dh]
    cross_k: torch.Tensor  # [L, R, H, text, Dh]
    cross_v: torch.Tensor  # [L, R, H, text, Dh]
    cross_bias: torch.Tensor  # [R, 1, 1, text] additive: 0 = attend, -inf = padding; a row without text attends
    # to zeros everywhere, so every row's output (and what it writes to the scratch slot) stays finite
    ready: int = 0  # positions [0, ready) are initialised for every row

    def prepare(self, end: int) -> None:
        """Make positions [0, end) safe to read (end <= positions + 1, the scratch slot included)."""
        if end > self.ready:
            new = min(self.positions + 1, max(end, self.ready + ZERO_CHUNK))
            self.k[:, :, :, self.ready : new].zero_()
            self.v[:, :, :, self.ready : new].zero_()
            self.ready = new

    @property
    def positions(self) -> int:
        return self.k.shape[3] - 1

    @property
    def rows(self) -> int:
        return self.k.shape[1]

    @property
    def text(self) -> int:
        return self.cross_k.shape[3]

    def grown(self, rows: int, positions: int, text: int) -> "KVCache":
        """A larger cache holding this one's contents (rows, positions and text padded; the scratch slot moves)."""
        rows, positions, text = max(rows, self.rows), max(positions, self.positions), max(text, self.text)
        if (rows, positions, text) == (self.rows, self.positions, self.text):
            return self
        L, _, H, _, dh = self.k.shape
        ready = min(self.ready, self.positions)  # the old scratch slot is not carried over
        out = KVCache(
            k=self.k.new_empty(L, rows, H, positions + 1, dh), v=self.v.new_empty(L, rows, H, positions + 1, dh),
            cross_k=self.k.new_zeros(L, rows, H, text, dh), cross_v=self.k.new_zeros(L, rows, H, text, dh),
            cross_bias=self.cross_bias.new_zeros(rows, 1, 1, text), ready=ready,
        )
        out.cross_bias[: self.rows, :, :, self.text :] = float("-inf")  # the text each row has keeps its length
        r, s = self.rows, self.text
        out.k[:, :r, :, :ready] = self.k[:, :, :, :ready]
        out.v[:, :r, :, :ready] = self.v[:, :, :, :ready]
        out.k[:, r:, :, :ready] = 0
        out.v[:, r:, :, :ready] = 0
        out.cross_k[:, :r, :, :s] = self.cross_k
        out.cross_v[:, :r, :, :s] = self.cross_v
        out.cross_bias[:r, :, :, :s] = self.cross_bias
        return out

    def copy_rows(self, dst: torch.Tensor, src: torch.Tensor, other: "KVCache | None" = None) -> None:
        """Rows `src` of `other` (default: this cache) into rows `dst` of this one: history and text."""
        o = self if other is None else other
        p, s = min(self.positions, o.positions, o.ready), min(self.text, o.text)  # all that was ever written
        self.prepare(p)
        self.k[:, dst, :, :p] = o.k[:, src, :, :p]
        self.v[:, dst, :, :p] = o.v[:, src, :, :p]
        self.cross_k[:, dst] = 0
        self.cross_v[:, dst] = 0
        self.cross_bias[dst] = float("-inf")
        self.cross_k[:, dst, :, :s] = o.cross_k[:, src, :, :s]
        self.cross_v[:, dst, :, :s] = o.cross_v[:, src, :, :s]
        self.cross_bias[dst, :, :, :s] = o.cross_bias[src, :, :, :s]


class DecoderLayer(nn.Module):
    def __init__(self, cfg: LMConfig):
        super().__init__()
        d = cfg.dim
        self.norm1 = nn.LayerNorm(d)
        self.qkv = Dense(d, 3 * d)
        self.out = Dense(d, d)
        self.cross = cfg.cross_attention  # False: conditioned by a prefix (melody), no cross-attention block
        if self.cross:
            self.norm_cross = nn.LayerNorm(d)
            self.cross_q = Dense(d, d)
            self.cross_out = Dense(d, d)
        self.norm2 = nn.LayerNorm(d)
        self.fc1 = Dense(d, cfg.ffn_dim)
        self.fc2 = Dense(cfg.ffn_dim, d)
        self.heads = cfg.num_heads
        self.act = cfg.activation

    def _mlp(self, x2: torch.Tensor, g: Groups) -> torch.Tensor:
        d = x2.shape[-1]
        n = F.layer_norm(x2, (d,), self.norm2.weight, self.norm2.bias, self.norm2.eps)
        y = self.fc1(n, g)
        y = F.relu(y) if self.act == "relu" else F.gelu(y, approximate="tanh" if self.act == "gelu_new" else "none")
        return x2 + self.fc2(y, g)

    def _cross(self, x2: torch.Tensor, b: int, t: int, g: Groups, ck: torch.Tensor, cv: torch.Tensor,
               cb: torch.Tensor):
        d = x2.shape[-1]
        h, dh = self.heads, d // self.heads
        n = F.layer_norm(x2, (d,), self.norm_cross.weight, self.norm_cross.bias, self.norm_cross.eps)
        q = _as(self.cross_q(n, g).view(b, t, h, dh).transpose(1, 2), ck.dtype)  # the cache's dtype (kv_dtype)
        if t == 1:  # one query: plain matmuls beat SDPA's dispatch for this size
            a = ((q * dh**-0.5) @ ck.transpose(-1, -2) + cb).softmax(-1) @ cv
        else:
            a = F.scaled_dot_product_attention(q, ck, cv, attn_mask=cb)
        return x2 + self.cross_out(_as(a.transpose(1, 2).reshape(b * t, d), x2.dtype), g)

    def block(self, x2: torch.Tensor, b: int, t: int, attend: Callable, cross: tuple, g: Groups = None
              ) -> torch.Tensor:
        """The layer's one body, for every way it runs (a token per row, a prefill, MAGNeT's whole segment):
        x2 [b * t, D]; attend(q, k, v), each [b, H, t, Dh] -> [b, H, t, Dh]: the self-attention over whatever keys
        and values the caller keeps (and writes); cross: the text's (keys, values, additive bias), used where the
        layer has cross-attention (a melody model's has none); g: an int8 model's rows sharing an activation scale
        (Groups; None: none, every call row-independent).
        -> [b * t, D]"""
        d = x2.shape[-1]
        h, dh = self.heads, d // self.heads
        n = F.layer_norm(x2, (d,), self.norm1.weight, self.norm1.bias, self.norm1.eps)
        q, k, v = self.qkv(n, g).view(b, t, 3, h, dh).permute(2, 0, 3, 1, 4)  # each [b, H, t, Dh]
        x2 = x2 + self.out(_as(attend(q, k, v).transpose(1, 2).reshape(b * t, d), x2.dtype), g)
        if self.cross:
            x2 = self._cross(x2, b, t, g, *cross)
        return self._mlp(x2, g)

    def decode(
        self, x: torch.Tensor, i: int, cache: KVCache, write: torch.Tensor, mask: torch.Tensor, end: int, text: int,
        groups: Groups = None,
    ) -> torch.Tensor:
        """One token per cache row. x: [R, D]; write: [R * H] where each row's and head's K/V go, as an index into
        a layer's cache viewed [R * H * (P+1), Dh]; mask: [R, 1, 1, end] additive in the cache's dtype, 0 over the
        row's own past (itself included), -inf after; end / text: how much of the cache to read; groups: see
        Groups. -> [R, D]"""
        r = x.shape[0]
        ck, cv = cache.k[i], cache.v[i]  # [R, H, P+1, Dh], each layer's contiguous

        def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:  # in the cache's dtype
            dh = k.shape[-1]
            ck.view(-1, dh).index_copy_(0, write, _as(k.reshape(-1, dh), ck.dtype))  # k: [R, H, 1, Dh]
            cv.view(-1, dh).index_copy_(0, write, _as(v.reshape(-1, dh), ck.dtype))
            return F.scaled_dot_product_attention(_as(q, ck.dtype), ck[:, :, :end], cv[:, :, :end], attn_mask=mask)

        cross = (cache.cross_k[i, :, :, :text], cache.cross_v[i, :, :, :text], cache.cross_bias[..., :text])
        return self.block(x, r, 1, attend, cross, groups)

    def prefill(self, x: torch.Tensor, i: int, cache: KVCache, rows: torch.Tensor, start: int) -> torch.Tensor:
        """Tokens at positions start.. of cache rows `rows`. x: [n, T, D] -> [n, T, D]. At batch 2 a step is bound by
        reading the weights, so every projection is one matmul over a [n*T, D] matrix (an int8 model's share one
        activation scale: call it with one voice's rows, in chunks its replay repeats, as the engine does)."""
        b, t, d = x.shape
        end = start + t

        def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            cache.k[i, rows, :, start:end] = k.to(cache.k.dtype)
            cache.v[i, rows, :, start:end] = v.to(cache.k.dtype)
            keys, values = cache.k[i, rows, :, :end], cache.v[i, rows, :, :end]
            mask = torch.ones(t, end, dtype=torch.bool, device=x.device).tril(diagonal=start)
            return F.scaled_dot_product_attention(q.to(keys.dtype), keys, values, attn_mask=mask)

        cross = (cache.cross_k[i, rows], cache.cross_v[i, rows], cache.cross_bias[rows])
        return self.block(x.reshape(b * t, d), b, t, attend, cross, ALL_ROWS).view(b, t, d)

    def full(self, x: torch.Tensor, i: int, cache: KVCache, bias: torch.Tensor | None) -> torch.Tensor:
        """Every position at once, no causal mask and no cache of its own (MAGNeT's pass over a segment).
        x: [N, T, D]; bias: additive [T, T] or [N, 1, T, T] (a stage's band), or None. -> [N, T, D]"""
        b, t, d = x.shape

        def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            return F.scaled_dot_product_attention(q, k, v, attn_mask=None if bias is None else bias.to(q.dtype))

        cross = (cache.cross_k[i], cache.cross_v[i], cache.cross_bias)
        return self.block(x.reshape(b * t, d), b, t, attend, cross).view(b, t, d)


class MusicgenLM(nn.Module):
    def __init__(self, cfg: LMConfig):
        super().__init__()
        self.cfg = cfg
        k, d = cfg.num_codebooks, cfg.dim
        self.emb = nn.Parameter(torch.zeros(k, cfg.card + 1, d))  # one table per codebook, row `card` = start/pad
        self.layers = nn.ModuleList([DecoderLayer(cfg) for _ in range(cfg.num_layers)])
        # all layers' cross K,V in one matmul (None for a prefix-conditioned LM)
        self.cross_kv = Dense(d, cfg.num_layers * 2 * d) if cfg.cross_attention else None
        self.norm = nn.LayerNorm(d)
        self.heads = Dense(d, k * cfg.card)  # K output heads in one matmul
        self._pos: torch.Tensor | None = None

    # -- state ---------------------------------------------------------------------------------------------------
    @property
    def kv_dtype(self) -> torch.dtype:
        """The KV cache's dtype, in which attention runs: the model's, except float32 for a 16-bit model on the CPU,
        whose batched matmul copies a strided bfloat16 cache slice on every read (a third of a bfloat16 step at
        position 250; docs/benchmarks.md). That costs reading the cache's bytes twice over: at position 250 of
        musicgen-small 49 MB more a step, 7 % of its 721 MB of bfloat16 weights."""
        dt = self.emb.dtype
        return torch.float32 if self.emb.device.type == "cpu" and dt in (torch.bfloat16, torch.float16) else dt

    def new_cache(self, rows: int, positions: int, text: int = 1) -> KVCache:
        """A cache for `rows` LM rows, `positions` positions each and `text` tokens of text states."""
        p, c = self.emb, self.cfg
        h, dh = c.num_heads, c.dim // c.num_heads
        z = dict(dtype=self.kv_dtype, device=p.device)
        return KVCache(
            k=torch.empty(c.num_layers, rows, h, positions + 1, dh, **z),  # zeroed ahead of use: KVCache.prepare
            v=torch.empty(c.num_layers, rows, h, positions + 1, dh, **z),
            cross_k=torch.zeros(c.num_layers, rows, h, text, dh, **z),
            cross_v=torch.zeros(c.num_layers, rows, h, text, dh, **z),
            cross_bias=torch.zeros(rows, 1, 1, text, **z),  # no text yet: attend to zeros (finite, never NaN)
        )

    def pack(self, kernel: str) -> None:
        """Reorder the per-step projections for `kernel` (the model's choice: see Dense.pack). Call once, after
        loading (CodecLM.use_kernels does). cross_kv runs once per prompt and stays as it is (packing
        it would only cost a transient copy)."""
        for m in self.modules():
            if isinstance(m, Dense) and m is not self.cross_kv:
                m.pack(kernel)

    def unpack(self) -> None:
        for m in self.modules():
            if isinstance(m, Dense):
                m.unpack()

    def quantized(self) -> dict[str, Dense]:
        """The projections int8 applies to, by name: the per-step ones (cross_kv runs once per prompt, in float)."""
        return {n: m for n, m in self.named_modules() if isinstance(m, Dense) and m is not self.cross_kv}

    def quantize(self, stored: Int8 | None = None) -> Int8:
        """int8 weights for the per-step projections (see Dense.set_int8): the values and scales `stored`
        (int8_store: their float weights were never read), else rounded from the float weights here. Returns the
        values used, by projection name, for the store."""
        from concurrent.futures import ThreadPoolExecutor

        dense = self.quantized()
        made = stored if stored is not None else {n: m.int8_of_weight() for n, m in dense.items()}  # multithreaded ops
        with ThreadPoolExecutor(max(1, torch.get_num_threads())) as pool:  # fbgemm's packing: one thread each
            list(pool.map(lambda n: dense[n].set_int8(*made[n]), dense))
        return made

    @property
    def packed(self) -> bool:
        return self.heads.packed

    @property
    def int8(self) -> bool:
        return self.heads.int8 is not None

    @torch.inference_mode()
    def condition(self, cache: KVCache, rows: torch.Tensor, states: torch.Tensor, mask: torch.Tensor) -> None:
        """Every layer's cross-attention K/V for the text states of cache rows `rows` [n].

        states: [n, S, dim] already projected and zeroed where mask is 0; mask: [n, S] (1 = token), S <= cache.text.
        A row whose mask is all zero (the unconditional half of guidance) attends uniformly to zero values, giving
        exactly 0."""
        if self.cross_kv is None:
            raise ValueError("this LM has no cross-attention: it is conditioned by a prefix (prefill_embeds)")
        c = self.cfg
        b, s, d = states.shape
        h, dh = c.num_heads, d // c.num_heads
        kv = self.cross_kv(states.to(self.emb.dtype).reshape(b * s, d)).view(b, s, c.num_layers, 2, h, dh)
        kv = kv.permute(2, 3, 0, 4, 1, 5)  # [L, 2, n, H, S, Dh]
        m = mask.bool()
        m = m | ~m.any(dim=1, keepdim=True)  # fully masked rows: attend to all (values are 0)
        bias = torch.zeros(m.shape, dtype=cache.cross_k.dtype, device=m.device).masked_fill(~m, float("-inf"))
        kv = kv.to(cache.cross_k.dtype)
        cache.cross_k[:, rows] = 0
        cache.cross_v[:, rows] = 0
        cache.cross_bias[rows] = float("-inf")
        cache.cross_k[:, rows, :, :s] = kv[:, 0]
        cache.cross_v[:, rows, :, :s] = kv[:, 1]
        cache.cross_bias[rows, :, :, :s] = bias[:, None, None, :]

    def position_table(self, n: int) -> torch.Tensor:
        """Sinusoids for positions 0..n-1 (cached, grown on demand; never inside a captured step)."""
        if self._pos is None or self._pos.shape[0] < n or self._pos.device != self.emb.device:
            self._pos = sinusoids(torch.arange(max(n, self.cfg.max_positions), device=self.emb.device), self.cfg.dim)
        return self._pos

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens [..., K] codes (id `card` = start/pad) -> summed embeddings [..., D]."""
        k = self.cfg.num_codebooks
        offsets = torch.arange(k, device=tokens.device) * (self.cfg.card + 1)
        x = F.embedding(tokens + offsets, self.emb.view(-1, self.cfg.dim)).sum(dim=-2)
        return x * math.sqrt(self.cfg.dim) if self.cfg.scale_embedding else x

    def _logits(self, x: torch.Tensor, groups: Groups = None) -> torch.Tensor:
        """x [N, D] -> float32 logits [N, K, card]."""
        return self.heads(self.norm(x), groups).float().view(x.shape[0], self.cfg.num_codebooks, self.cfg.card)

    # -- forward -------------------------------------------------------------------------------------------------
    def decode(
        self, cache: KVCache, tokens: torch.Tensor, pos: torch.Tensor, live: torch.Tensor, table: torch.Tensor,
        end: int | None = None, text: int | None = None, groups: Groups = None,
    ) -> torch.Tensor:
        """One token for every cache row, each at its own position: the fixed-shape step.

        tokens: [R, K]; pos: [R] long (< cache.positions); live: [R] bool, rows that do not step write their K/V
        into the scratch slot, so their history is untouched; table: `position_table(cache.positions)`.
        end / text: read only the first `end` positions / `text` tokens (eager speed; None = all, for capture).
        groups (an int8 model): the rows that share an activation scale, each stepping voice's (see Groups).
        The caller keeps `end > pos.max()` and has called `cache.prepare(end)`. Returns float32 logits [R, K, card]."""
        end = cache.positions + 1 if end is None else end
        text = cache.text if text is None else text
        x = self.embed(tokens) + table[pos].to(self.emb.dtype)  # [R, D]
        slot = torch.where(live, pos, cache.positions)  # [R] the position each row writes: its own, or the scratch
        heads = torch.arange(cache.rows * self.cfg.num_heads, device=pos.device)  # one index_copy_ per layer's K, V
        write = heads * (cache.positions + 1) + slot[:, None].expand(-1, self.cfg.num_heads).reshape(-1)  # [R * H]
        later = torch.arange(end, device=pos.device)[None, :] > pos[:, None]  # [R, end] past each row's own position
        # [R, 1, 1, end] additive, in the cache's dtype: SDPA would make it of a bool mask in every layer (same bits)
        mask = torch.zeros(later.shape, dtype=cache.k.dtype, device=pos.device).masked_fill_(later, float("-inf"))
        mask = mask[:, None, None, :]
        for i, layer in enumerate(self.layers):
            x = layer.decode(x, i, cache, write, mask, end, text, groups)
        return self._logits(x, groups)

    @torch.inference_mode()
    def prefill(
        self, cache: KVCache, rows: torch.Tensor, tokens: torch.Tensor, start: int, logits: bool = False
    ) -> torch.Tensor | None:
        """Known tokens [n, K, T] of cache rows `rows` [n], at positions start..start+T-1 of every one of them.
        Returns the last token's logits [n, K, card] if asked."""
        return self.prefill_embeds(cache, rows, self.embed(tokens.transpose(1, 2)), start, logits)

    @torch.inference_mode()
    def prefill_embeds(
        self, cache: KVCache, rows: torch.Tensor, x: torch.Tensor, start: int, logits: bool = False
    ) -> torch.Tensor | None:
        """Input vectors x [n, T, D] (token embeddings, or a conditioning prefix) of cache rows `rows` at positions
        start..start+T-1: the position embedding is added here. Returns the last one's logits if asked."""
        t = x.shape[1]
        if start + t > cache.positions:
            raise ValueError(f"KV cache full: {start}+{t} > {cache.positions}")
        cache.prepare(start + t)
        x = x.to(self.emb.dtype) + self.position_table(start + t)[start : start + t].to(self.emb.dtype)
        for i, layer in enumerate(self.layers):
            x = layer.prefill(x, i, cache, rows, start)
        return self._logits(x[:, -1], ALL_ROWS) if logits else None

