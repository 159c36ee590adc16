"""Incremental EnCodec decoding: codes in, every final PCM sample out as soon as it is final."""
from __future__ import annotations

import math

import torch

from ..errors import LoopgenError
from ..models.encodec_stream import StreamingSEANet
from ..models.base import CodecLM


def codes_to_latents(m: CodecLM, codes: torch.Tensor) -> torch.Tensor:
    """codes [B, K, t] (a stereo model's codebooks interleave the channels) -> per-channel latents [B*C, D, t]."""
    return m.codec.quantizer.decode(m.per_channel(codes))


class IncrementalDecoder:
    """Decode a stream of codes chunk by chunk. Concatenated, `push` outputs and the final `flush` equal
    `m.decode` of all the codes at once (within float rounding), for any chunk sizes.

    The 32 kHz codec is non-causal, so the newest `latency_samples` (2402, 3.75 frames) wait for the frames that
    follow them; `latency_frames` rounds that up. After `flush` the decoder is ready for a new stream."""

    def __init__(self, m: CodecLM, batch_size: int = 1):
        self.m = m
        self.batch_size = batch_size
        self.channels = m.channels
        self.hop = m.cfg.audio.hop_length
        self._seanet = StreamingSEANet(m.codec.decoder)
        self.latency_samples = self._seanet.latency_samples()
        self.latency_frames = math.ceil(self.latency_samples / self.hop)
        self.reset()

    def reset(self) -> None:
        """Start a new stream (the state is reallocated with the model's current device and dtype)."""
        self._seanet.reset(self.batch_size * self.channels)

    def _rows(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [B, K, t] -> per-channel latents [B*C, D, t]."""
        b, k, t = codes.shape
        if b != self.batch_size or k != self.m.num_codebooks:
            raise LoopgenError(f"codes must be [{self.batch_size}, {self.m.num_codebooks}, t], got {tuple(codes.shape)}")
        return codes_to_latents(self.m, codes)

    @torch.inference_mode()
    def push(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [B, K, t], t >= 0 -> pcm [B, C, n]: the samples that no later frame can change."""
        pcm = self._seanet.push(self._rows(codes))
        return pcm.reshape(self.batch_size, self.channels, -1)

    @torch.inference_mode()
    def flush(self) -> torch.Tensor:
        """End of stream: the remaining samples [B, C, n]. The decoder then starts a new stream."""
        like = self._seanet.flat.new_zeros(self.batch_size * self.channels, 1, 0)  # the codec's dtype
        pcm = self._seanet.flush(like).reshape(self.batch_size, self.channels, -1)
        self.reset()
        return pcm
