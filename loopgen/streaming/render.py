"""Offline rendering, the one path for both model families: a prompt to audio (MusicGen: one window through
`generate` as transformers does, longer through a Take's sliding windows; MAGNeT: segment by segment; a
continuation of audio, either family: through a Take that keeps that audio sample for sample), and a take's
record made again through the same Take and stepper code the daemon used. The CLI's `render` and `render --from`
call only these; they read and write no files.
"""
from __future__ import annotations

from collections.abc import Callable
import numpy as np
import torch

from ..errors import LoopgenError
from ..models.audio import prepare_audio
from ..models.base import CodecLM, StepInfo
from ..models.chroma import from_pitch_classes
from ..params import magnet_changes, musicgen_sampling
from .bank import DecoderBank
from .output import Output
from .record import MAX_TAKE_SECONDS, TakeRecord
from .take import Take

Progress = Callable[[StepInfo], None] | None


def render(m: CodecLM, prompt: str, seconds: float, sampling: dict[str, float] | None = None, *,
           options: dict | None = None, greedy: bool = False, seed: int | None = None,
           prompt_audio: np.ndarray | torch.Tensor | None = None, prompt_rate: int | None = None,
           melody: np.ndarray | None = None, melody_rate: int | None = None,
           progress: Progress = None) -> tuple[torch.Tensor, int]:
    """`seconds` of new audio for `prompt` (after `prompt_audio`, when given) -> (audio [C, N] at the model's rate,
    the seed used). sampling: the values given (request names), over the family's defaults; options: a family's own
    (MAGNeT's decoding options); greedy: the most likely token every time."""
    if not seconds > 0:
        raise LoopgenError(f"seconds must be > 0, got {seconds}")
    if melody is not None and not m.prefixed:
        raise m.no_melody()
    given = dict(sampling or {})
    try:
        how = _RENDER[m.family]
    except KeyError:
        raise LoopgenError(f"{m.name}: loopgen renders no model of family {m.family!r}") from None
    return how(m, prompt, seconds, given, dict(options or {}), greedy, seed, prompt_audio, prompt_rate, melody,
               melody_rate, progress)


def _musicgen(m, prompt, seconds, given, options, greedy, seed, prompt_audio, rate, melody, melody_rate, progress):
    if options:
        raise LoopgenError(f"{', '.join(sorted(options))}: MAGNeT's decoding options; {m.name} is a MusicGen")
    given = {**given, "temperature": 0.0} if greedy else given
    if prompt_audio is None and round(seconds * m.frame_rate) <= m.max_frames:  # one window: as transformers does
        g = m.generate([prompt], seconds=seconds, seed=seed, progress=progress, melody=melody,
                       melody_sample_rate=melody_rate, **musicgen_sampling(given).as_dict())
        return g.audio[0], g.seed
    return _take(m, prompt, seconds, given, seed, prompt_audio, rate, melody, melody_rate, progress)


def _take(m, prompt, seconds, given, seed, prompt_audio, rate, melody, melody_rate, progress):
    """Through the daemon's Take: sliding windows from the stream's own tail, and a continuation that keeps the
    audio it continues sample for sample (resampled once to the model's rate and channels), the codec's rendering of
    its last moments faded into the new part as the daemon's `extend` does."""
    original = None
    if prompt_audio is not None:
        original = prepare_audio(prompt_audio, rate, m.sample_rate, m.channels)[0].to(m.device)
    n0 = 0 if original is None else original.shape[-1]
    chroma, how = m.melodies(melody, melody_rate, 1) if m.prefixed else ([None], None)
    take = Take(m, [prompt], given, seed, n0 + int(round(seconds * m.sample_rate)), original=original,
                keep_original=original is not None, melody=chroma[0], melody_from=how)
    steps = 0
    for f in take.session:
        take.push(f)
        steps += 1
        if progress is not None:
            progress(StepInfo(steps, take.total_frames))
    take.flush()
    return take.audio(), take.seed


def _magnet(m, prompt, seconds, given, options, greedy, seed, prompt_audio, rate, melody, melody_rate, progress):
    if prompt_audio is not None:  # a continuation keeps your audio: through the Take, as the daemon continues
        if options or greedy:
            raise LoopgenError(f"{', '.join(sorted(options)) or '--greedy'}: not available when continuing audio "
                               "with MAGNeT (it continues with its own decoding defaults)")
        return _take(m, prompt, seconds, given, seed, prompt_audio, rate, None, None, progress)
    if greedy:
        options["greedy"] = True
    g = m.generate([prompt], seconds=seconds, seed=seed, progress=progress, **magnet_changes(given), **options)
    return g.audio[0], g.seed


_RENDER = {"musicgen": _musicgen, "magnet": _magnet}  # by the model's family


def replay(record: TakeRecord, m: CodecLM, original: torch.Tensor | None = None, over: Output | None = None
           ) -> tuple[np.ndarray, int, str]:
    """Make a recorded take again: the same Take, stepper and decoder bank the daemon used, every live change at
    its tick; `original` [C, n]: the audio it continued (its `continues` file). -> (the file's data [N, C] float32,
    its rate, its sample format), rendered with the take's own file settings, or those `over` gives (None: kept)."""
    if record.length_samples > MAX_TAKE_SECONDS * m.sample_rate:
        raise LoopgenError(f"the take is {record.length_samples / m.sample_rate:.0f} s long at {m.name}'s rate; "
                           f"at most {MAX_TAKE_SECONDS:g} s are made again")
    melody = None
    if record.melody:  # the chroma the take was conditioned on, from its pitch classes
        melody = from_pitch_classes(record.melody["pitch_classes"]).to(m.device)
    if original is not None:
        original = original.to(m.device)
    take = Take(m, [record.prompts], record.family_parameters, record.seed, record.length_samples,
                loop=record.loop, original=original, keep_original=record.keeps_original, guided=True,
                melody=melody, bank=DecoderBank(m, 1))  # a crowd's bits, as the daemon decoded it
    # its decoder in the bank or alone frame by frame as it was (a record without the moves: banked throughout)
    take.decoder.script = record.decode_rows if record.decode_rows is not None else [[0, 2]]
    audio = take.replay(record.changes, record.prefill_chunk, record.frames if record.stopped_early else None)
    out = Output(record.sample_rate, record.output_format, record.loudness)
    if over is not None:
        out = out.over(over.rate, over.format, over.loudness)
    data, rate = out.render(audio, m.sample_rate, record.loop and not record.stopped_early, record.bars_at)
    return data, rate, out.format
