"""The `loopgen` command. User errors print one line to stderr and exit 2, never a traceback."""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

from .errors import LoopgenError
from .params import MAX_NEW_SECONDS, SPAN_ARRANGEMENTS, SPAN_SCORINGS, MagnetParams, SamplingParams

DEFAULT_MODEL = "facebook/musicgen-small"
DEFAULT_SECONDS = 8.0
DTYPE_HELP = "auto, float32, float16, bfloat16 or int8 (int8: MusicGen on the CPU)"


def read_audio(path: str, limits=None) -> tuple["object", int]:
    """-> (float32 array [C, N], sample_rate); clear errors for missing, unreadable or empty files, and for files
    outside `limits` (audio_files.Limits: checked on the header before decoding)."""
    from . import audio_files

    if not Path(path).is_file():
        raise LoopgenError(f"cannot read audio file {path}: no such file")
    try:
        return audio_files.read(path, limits)
    except LoopgenError as e:
        raise LoopgenError(f"cannot read audio file {path}: {e}") from e


def write_audio(path: str, data, rate: int, fmt: str = "float") -> None:
    """data: [N, C] float32 -> a file in the format its suffix names (WAV: 32-bit float, or 24/16-bit PCM)."""
    from . import audio_files

    out = Path(path)
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
    audio_files.write(out, data, rate, fmt)


def check_output(path: str) -> None:
    """Refuse an output that cannot be written before any work is done: a format soundfile cannot write (by its
    suffix), a folder, or a place the user cannot create or write (the cause named)."""
    import os

    from .audio_files import writable_format

    if not writable_format(path):
        raise LoopgenError(f"cannot write {path}: unknown audio format {Path(path).suffix!r}; use .wav, .flac or .ogg")
    out = Path(path).expanduser()
    if out.is_dir():
        raise LoopgenError(f"cannot write {path}: it is a folder")
    parent = out.parent
    while not parent.exists() and parent != parent.parent:  # the folders it would create
        parent = parent.parent
    if not parent.is_dir():
        raise LoopgenError(f"cannot write {path}: {parent} is not a folder")
    target = out if out.exists() else parent
    if not os.access(target, os.W_OK) or (target == parent and not os.access(parent, os.X_OK)):
        raise LoopgenError(f"cannot write {path}: permission denied on {target}")


def check_sampling(given: dict, seed: int | None) -> None:
    """Sampling values and the seed in the widest range any model family takes, before minutes of loading (each
    family checks its own range again)."""
    from .params import MAX_SEED, request_problem

    for k, v in given.items():
        problem = request_problem(k, v)
        if problem is not None:
            raise LoopgenError(f"{'--cfg' if k == 'cfg_coef' else '--' + k.replace('_', '-')} {problem}")
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise LoopgenError(f"--seed must be from 0 to {MAX_SEED}, got {seed}")


def render_take(sidecar: str, output: str, model: str | None, device: str | None, dtype: str | None,
                threads: int | None = None, out=None) -> int:
    """`render --from`: the take's record made again (streaming.render.replay), on the number of CPU threads the
    daemon used unless `threads` is given (a batched decode's last bits depend on it). out: an Output whose given
    settings (rate, format, loudness) replace the take's own (a 48 kHz copy of a take)."""
    import torch

    from .models import load_model
    from .streaming.record import MAX_SIDECAR_BYTES, TakeRecord
    from .streaming.render import replay

    check_output(output)
    path = Path(sidecar)
    try:
        if not path.is_file():  # a FIFO or a folder is not a sidecar: never opened
            raise OSError("not a file")
        with path.open("rb") as f:
            raw = f.read(MAX_SIDECAR_BYTES + 1)
        if len(raw) > MAX_SIDECAR_BYTES:
            raise OSError(f"over {MAX_SIDECAR_BYTES >> 20} MB: not a take's record")
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise LoopgenError(f"cannot make a take from {sidecar}: {getattr(e, 'strerror', None) or e}") from None
    record = TakeRecord.from_json(text, sidecar)
    if threads is None and record.threads is not None:
        from .models.threads import set_threads

        set_threads(record.threads)
    original = None
    if record.continues:  # the daemon wrote it at the model's rate: no longer than the take may be
        from .audio_files import Limits
        from .streaming.record import MAX_TAKE_SECONDS

        audio, _ = read_audio(str(path.with_name(record.continues)), Limits(MAX_TAKE_SECONDS, (8000, 384000), 2))
        original = torch.from_numpy(audio)
    name = model or record.model
    print(f"loading {name} ...", file=sys.stderr)
    try:  # in the precision the take was made in, unless told otherwise, and through the same CPU matmuls
        m = load_model(name, device=device, dtype=dtype or record.dtype, kernels=record.kernels)
    except LoopgenError as e:
        if dtype is not None or record.dtype is None:
            raise
        print(f"the take was made in {record.dtype}, which cannot run here ({e}): making it in this device's "
              f"default; it will not be the same bits", file=sys.stderr)
        m = load_model(name, device=device, kernels=record.kernels)
    unlike = {k: v for k, v in (record.kernels or {}).items() if k in m.kernels and m.kernels[k] != v}
    if unlike:
        print(f"the take ran the {', '.join(f'{v} matmul in {k}' for k, v in unlike.items())}, which loopgen does "
              f"not run here: it will not be the same bits", file=sys.stderr)
    data, rate, fmt = replay(record, m, original, out)
    write_audio(output, data, rate, fmt)
    print(f"wrote {output}: {data.shape[0] / rate:.2f} s, seed {record.seed}, {len(record.changes)} live change(s)",
          file=sys.stderr)
    return 0


def _magnet_options(args: argparse.Namespace) -> dict:
    """The MAGNeT options given on the command line (the rest: the model family's defaults). --cfg is the guidance
    while everything is masked (max_cfg_coef), annealed to --min-cfg."""
    steps = None
    if args.decoding_steps is not None:
        try:
            steps = tuple(int(x) for x in args.decoding_steps.split(","))
        except ValueError:
            raise LoopgenError(f"--decoding-steps takes whole numbers separated by commas, got {args.decoding_steps!r}") from None
    given = dict(min_cfg_coef=args.min_cfg, decoding_steps=steps, span_arrangement=args.span_arrangement,
                 span_scoring=args.span_scoring)
    return {k: v for k, v in given.items() if v is not None}


def cmd_render(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .models import load_model
    from .models.threads import set_threads

    set_threads(args.threads)
    if args.from_take:
        ignored = [name for name, v in (("a prompt", args.prompt), ("--seconds", args.seconds),
                                        ("--continue", args.continue_from), ("--melody", args.melody),
                                        ("--seed", args.seed), ("--greedy", args.greedy or None)) if v is not None]
        ignored += [flag for flag, v in (("--temperature", args.temperature), ("--top-k", args.top_k),
                                         ("--top-p", args.top_p), ("--cfg", args.cfg)) if v is not None]
        if ignored:
            raise LoopgenError(f"render --from makes the take as it was: {', '.join(ignored)} cannot change it "
                               "(--output-rate, --output-format, --loudness, --model, --device, --dtype can)")
        from .streaming.output import Output

        out = Output(args.output_rate, args.output_format, args.loudness)
        return render_take(args.from_take, args.output, args.model, args.device, args.dtype, args.threads, out)
    if not args.prompt:
        raise LoopgenError("render needs a prompt (or --from TAKE.json)")
    if args.seconds is None:
        args.seconds = DEFAULT_SECONDS
    if args.seconds > MAX_NEW_SECONDS and not args.allow_long:
        raise LoopgenError(f"--seconds {args.seconds:g} is over the daemon's {MAX_NEW_SECONDS:g} s (hours on a real "
                           "model); add --allow-long to render it anyway")
    check_output(args.output)
    if args.loudness is not None:
        from .streaming.dsp import loudness_meter

        loudness_meter()
    args.model = args.model or DEFAULT_MODEL
    prompt_audio = rate = None
    if args.continue_from:
        prompt_audio, rate = read_audio(args.continue_from)
    args.melody_audio = args.melody_rate = None
    if args.melody:
        args.melody_audio, args.melody_rate = read_audio(args.melody)
    if not args.seconds > 0:
        raise LoopgenError(f"--seconds must be > 0, got {args.seconds}")
    magnet_options = _magnet_options(args)  # a typo is reported before minutes of loading
    given = {k: v for k, v in (("temperature", args.temperature), ("top_k", args.top_k), ("top_p", args.top_p),
                               ("cfg_coef", args.cfg)) if v is not None}
    check_sampling(given, args.seed)
    print(f"loading {args.model} ...", file=sys.stderr)
    m = load_model(args.model, device=args.device, dtype=args.dtype)
    bar = tqdm(total=None, unit="step", desc="generating", file=sys.stderr, dynamic_ncols=True)
    t0 = time.perf_counter()
    from .streaming.family import family

    per_pass = family(m).per_pass  # MAGNeT: its steps are full passes over a segment, not frames

    def progress(info) -> None:
        if bar.total is None:
            bar.reset(total=info.total)
        bar.update(1)
        if not per_pass:  # a step completes a frame once the delay pattern has filled (num_codebooks - 1 steps)
            elapsed = time.perf_counter() - t0
            audio_s = max(0, info.step - (m.num_codebooks - 1)) / m.frame_rate
            bar.set_postfix_str(f"{audio_s:.1f}s audio, rtf {audio_s / elapsed:.2f}x")

    from .streaming.render import render

    try:
        audio, seed = render(m, args.prompt, args.seconds, given, options=magnet_options, greedy=args.greedy,
                             seed=args.seed, prompt_audio=prompt_audio, prompt_rate=rate, melody=args.melody_audio,
                             melody_rate=args.melody_rate, progress=progress)
    finally:
        bar.close()
    from .streaming.dsp import for_output

    report: dict = {}
    data = for_output(audio, m.sample_rate, args.output_rate, args.loudness, report=report)
    if "loudness_reached" in report:
        print(f"loudness: {report['loudness_reached']:.1f} LUFS, not the {args.loudness:g} asked for: louder, its "
              "peaks would clip", file=sys.stderr)
    out_rate = args.output_rate or m.sample_rate
    write_audio(args.output, data, out_rate, args.output_format or "float")
    print(f"wrote {args.output}: {data.shape[0] / out_rate:.2f} s at {out_rate} Hz, {data.shape[1]} channel(s), "
          f"seed {seed}", file=sys.stderr)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from .catalog import KNOWN_MODELS, RANDOM_MODELS, cached_models  # no torch: it prints at once

    cached = cached_models()
    print(f"{'model':42} {'cached':7} about")
    for repo, about in KNOWN_MODELS.items():
        print(f"{repo:42} {'yes' if repo in cached else 'no':7} {about}")
    for name in RANDOM_MODELS:
        print(f"{name:42} {'-':7} seeded random weights, runs offline")
    return 0


def _seconds(v: str) -> float:
    import math

    try:
        x = float(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {v!r}") from None
    if not math.isfinite(x) or x <= 0:
        raise argparse.ArgumentTypeError(f"seconds must be a finite number > 0, got {v!r}")
    return x


def _port(v: str) -> int:
    if not v.isdigit() or not 0 <= int(v) <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a whole number from 0 to 65535 (0: any free one), got {v!r}")
    return int(v)


def ws_url(v: str) -> str:
    """What the daemon prints (http://HOST:PORT/ for the page), a bare HOST:PORT, or ws(s):// -> a ws(s):// URL."""
    if "://" not in v:
        v = "ws://" + v
    scheme, rest = v.split("://", 1)
    scheme = {"http": "ws", "https": "wss"}.get(scheme.lower(), scheme.lower())
    if scheme not in ("ws", "wss"):
        raise argparse.ArgumentTypeError(f"expected ws://HOST:PORT (or http://, or HOST:PORT), got {v!r}")
    return f"{scheme}://{rest.split('?', 1)[0]}"


def _hostport(v: str) -> tuple[str, int]:
    host, _, port = v.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {v!r}")
    return host, int(port)


def default_audio_device() -> str:
    """The system's default output if PortAudio sees one, else 'none' (headless)."""
    try:
        import sounddevice as sd

        sd.query_devices(kind="output")
        return str(sd.default.device[1]) if sd.default.device[1] is not None and sd.default.device[1] >= 0 else "none"
    except Exception:  # no PortAudio library, or no output device
        return "none"


def _workers(text: str) -> tuple[tuple[str, int], ...]:
    """--workers small=2,melody=1 -> (("small", 2), ("melody", 1))."""
    out = []
    for part in text.split(","):
        name, _, n = part.partition("=")
        if not name.strip() or not n.strip().isdigit() or not 1 <= int(n) <= 64:
            raise argparse.ArgumentTypeError(f"--workers takes MODEL=N[,MODEL=N] with N from 1 to 64, got {part!r}")
        out.append((name.strip(), int(n)))
    return tuple(out)


def cmd_serve(args: argparse.Namespace) -> int:
    import asyncio

    from .models.threads import adaptive_range, set_threads

    adaptive = adaptive_range(args.threads)  # all cores while they are fastest, one fewer beside a busy neighbour
    set_threads(adaptive[1] if adaptive else args.threads)
    from .server import Config, serve_forever
    from .server.logs import configure

    restore_logging = configure(args.verbose - args.quiet)

    audio = args.audio_device if args.audio_device != "default" else default_audio_device()
    cfg = Config(
        model=(args.model or [DEFAULT_MODEL])[0], extra_models=tuple((args.model or [])[1:]), device=args.device,
        dtype=args.dtype, host=args.host, ws_port=args.ws_port,
        osc_port=args.osc_port, osc_reply=args.osc_reply, osc_allow=tuple(args.osc_allow), audio_device=audio,
        loops_dir=Path(args.loops_dir).expanduser(), token=args.token, midi=args.midi,
        midi_map=Path(args.midi_map) if args.midi_map else None, output_rate=args.output_rate,
        output_format=args.output_format or "float", loudness=args.loudness,
        read_dirs=tuple(Path(d).expanduser() for d in args.read_dir), allow_origins=tuple(args.allow_origin),
        allow_hosts=tuple(args.allow_host),
        link=args.link, link_bpm=args.link_bpm, cuda_graphs=args.cuda_graphs, max_generations=args.max_generations,
        admission=args.admission, ray=args.ray, workers=args.workers, worker_threads=args.worker_threads,
        jack_server=args.jack_server, jack_connect=args.connect,
        jack_transport=args.jack_transport, adaptive_threads=adaptive,
    )
    try:
        asyncio.run(serve_forever(cfg, announce=lambda s: print(s, flush=True)))
    except KeyboardInterrupt:
        pass
    except OSError as e:
        raise LoopgenError(f"cannot listen: {e}") from e
    finally:
        restore_logging()
    return 0


async def _saved_as(c, gen_id: str) -> str | None:
    """The path of generation `gen_id` once the daemon says it is saved (its `done`), None for an error."""
    while True:
        ev = await c.next_event(timeout=10.0)
        if ev.get("id") == gen_id and ev["type"] in ("done", "error"):
            return ev.get("path")


def _list_jack() -> None:
    """JACK, when a server runs: its rate and playback ports (--audio-device jack) and MIDI sources (--midi jack)."""
    try:
        from .server.jack_io import server_running

        jc = server_running()
    except Exception:  # no JACK-Client, no libjack
        jc = None
    if jc is None:
        return
    try:
        c = jc.client
        playback = [p.name for p in c.get_ports(is_physical=True, is_input=True, is_audio=True)]
        midi = [p.name for p in c.get_ports(is_midi=True, is_output=True)]
        print(f"  jack  JACK server at {jc.rate} Hz, period {jc.period}: --audio-device jack "
              f"(to {', '.join(playback) or 'no playback ports'}); --midi jack"
              + (f" (MIDI sources: {', '.join(midi)})" if midi else ""))
    finally:
        jc.close()


def _ports(text: str) -> tuple[str, ...]:
    """--connect: JACK port names, comma-separated; none: no connection."""
    if text.strip().lower() == "none":
        return ()
    ports = tuple(p.strip() for p in text.split(",") if p.strip())
    if not ports or len(ports) > 2:
        raise argparse.ArgumentTypeError("one or two JACK port names, comma-separated (or none)")
    return ports


def cmd_devices(args: argparse.Namespace) -> int:
    print("audio outputs (--audio-device ID or a name substring):")
    try:
        import sounddevice as sd

        outs = [(i, d) for i, d in enumerate(sd.query_devices()) if d["max_output_channels"] > 0]
        for i, d in outs:
            print(f"  {i:3d}  {d['name']}  ({int(d['default_samplerate'])} Hz, {d['max_output_channels']} ch)")
        if not outs:
            print("  none found: serve runs headless (--audio-device none)")
    except Exception as e:
        print(f"  unavailable ({e}): serve runs headless")
    _list_jack()
    print("MIDI inputs (--midi NAME):")
    try:
        import mido

        names = mido.get_input_names()
        for n in names:
            print(f"  {n}")
        if not names:
            print("  none found")
    except Exception as e:
        print(f"  unavailable: {midi_trouble(e)}")
    return 0


def midi_trouble(e: Exception) -> str:
    """Why MIDI is not there, in words that say what to do: the package missing, or the system's MIDI."""
    import importlib.util

    if importlib.util.find_spec("rtmidi") is None:
        return "pip install python-rtmidi (or 'loopgen[midi]') for MIDI"
    if sys.platform.startswith("linux"):
        return (f"python-rtmidi is installed, but the system's MIDI is not reachable ({type(e).__name__}: {e}); on "
                "Linux it needs the ALSA sequencer (/dev/snd/seq: the snd-seq kernel module, and access to it)")
    return f"python-rtmidi is installed, but the system's MIDI is not reachable ({type(e).__name__}: {e})"


def cmd_send(args: argparse.Namespace) -> int:
    import asyncio

    from .clients import connect
    from .clients.client import ServerError

    if args.action == "generate":  # everything that can be checked here is, before connecting
        if not args.text:
            raise LoopgenError("send generate needs the prompt text")
        if args.seconds is not None and (args.bars is not None or args.bpm is not None):
            raise LoopgenError("give --seconds, or --bars with --bpm, not both")
        if (args.bars is None) != (args.bpm is None):
            raise LoopgenError("--bars and --bpm go together")

    async def run() -> int:
        async with connect(args.url, token=args.token) as c:
            if args.action == "ping":
                print(f"pong in {await c.ping() * 1000:.1f} ms")
                return 0
            if args.action == "stop":  # by id from any process, or the latest generation anyone started
                await c.stop(args.text or None)
                try:
                    ev = await c.next_event(timeout=1.0)
                except asyncio.TimeoutError:
                    ev = None  # no answer is the good answer: it stops and is saved
                if ev is not None and ev.get("type") == "error":
                    raise ServerError(ev)
                print(f"stopped {args.text or 'the latest generation'}", file=sys.stderr)
                return 0
            fields = {k: v for k, v in (("seconds", args.seconds), ("bars", args.bars), ("bpm", args.bpm),
                                         ("seed", args.seed), ("temperature", args.temperature),
                                         ("top_k", args.top_k), ("cfg_coef", args.cfg)) if v is not None}
            gen_id = f"cli-{os.getpid()}"
            try:
                async for ev in c.generate(args.text, id=gen_id, **fields):
                    if ev["type"] == "started":
                        print(f"started {gen_id} (stop it with: loopgen send stop {gen_id})", file=sys.stderr)
                    elif ev["type"] == "progress":
                        print(f"\r{ev['frames']}/{ev['total']} frames, rtf {ev['rtf']:.2f}", end="", file=sys.stderr)
                    elif ev["type"] == "done":
                        print(file=sys.stderr)
                        if ev["path"]:
                            print(ev["path"])
                        else:
                            print(f"{gen_id} was stopped before its first audio: nothing saved", file=sys.stderr)
            except asyncio.CancelledError:  # Ctrl-C: stop what we started (the daemon saves it), say where, go
                path = None
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(c.stop(gen_id)), 2.0)
                    path = await asyncio.wait_for(asyncio.shield(_saved_as(c, gen_id)), 10.0)
                said = f": the part made is saved as {path}" if path else (" before its first audio: nothing saved"
                                                                           if path == "" else "")
                print(f"\nstopped {gen_id}{said}", file=sys.stderr)
                if path:
                    print(path)
                raise
            return 0

    try:
        return asyncio.run(run())
    except ServerError as e:
        raise LoopgenError(f"server: {e}") from e
    except (OSError, ConnectionError) as e:
        raise LoopgenError(f"cannot reach {args.url}: {e} (is `loopgen serve` running?)") from e


def cmd_workers(args: argparse.Namespace) -> int:
    """List a running daemon's model workers (threads, or Ray actors with their node and pid)."""
    import asyncio

    from .clients import connect

    async def run() -> list[dict]:
        async with connect(args.url, token=args.token) as c:
            return await c.workers()

    try:
        workers = asyncio.run(run())
    except (OSError, ConnectionError) as e:
        raise LoopgenError(f"cannot reach {args.url}: {e} (is `loopgen serve` running?)") from e
    print(f"{'model':28} {'kind':6} {'device':8} {'node':20} {'pid':>8} {'sessions':>8} {'steps/s':>8} {'threads':>7}")
    for w in workers:
        gone = "" if w.get("alive", True) else "  (lost)"
        threads = "-" if w.get("threads") is None else w["threads"]
        print(f"{w['model']:28} {w['kind']:6} {str(w['device']):8} {str(w['node'])[:20]:20} {w['pid']:>8} "
              f"{w['sessions']:>8} {w['steps_per_s']:>8.1f} {threads:>7}{gone}")
    return 0


def cmd_clients(args: argparse.Namespace) -> int:
    """Copy the Max patch, the Pd patch and the browser page out of the package."""
    import shutil
    from importlib.resources import as_file, files

    dest = Path(args.copy).expanduser()
    root = files("loopgen.clients")
    copied = []
    try:
        with as_file(root.joinpath("clients.md")) as guide:  # the set-up for each host, beside the patches
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(guide, dest / "clients.md")
            copied.append("clients.md")
        for sub, pattern in (("max", "*.maxpat"), ("max", "*.amxd"), ("pd", "*.pd"), ("web", "*")):
            with as_file(root.joinpath(sub)) as folder:
                for f in sorted(Path(folder).glob(pattern)):
                    if f.is_file() and not f.name.startswith("__"):
                        (dest / sub).mkdir(parents=True, exist_ok=True)
                        shutil.copy2(f, dest / sub / f.name)
                        copied.append(f"{sub}/{f.name}")
    except OSError as e:
        raise LoopgenError(f"cannot copy the clients to {dest}: {e.strerror or e}") from e
    for c in copied:
        print(dest / c)
    print(f"set-up for each host: {dest / 'clients.md'}", file=sys.stderr)
    return 0


def _rate(v: str) -> int:
    from .params import OUTPUT_RATES

    if not v.isdigit() or not OUTPUT_RATES[0] <= int(v) <= OUTPUT_RATES[1]:
        raise argparse.ArgumentTypeError(f"a sample rate from {OUTPUT_RATES[0]} to {OUTPUT_RATES[1]} Hz, got {v!r}")
    return int(v)


def _finite(v: str) -> float:
    """A number argument: NaN and infinities are refused here, as on every other path."""
    import math

    try:
        x = float(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {v!r}") from None
    if not math.isfinite(x):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {v!r}")
    return x


def _tempo(v: str) -> float:
    from .protocol.messages import LENGTH_LIMITS

    x, (lo, hi, _) = _finite(v), LENGTH_LIMITS["bpm"]
    if not lo <= x <= hi:
        raise argparse.ArgumentTypeError(f"a tempo from {lo:g} to {hi:g} bpm, got {v}")
    return x


def _lufs(v: str) -> float:
    from .params import LOUDNESS_RANGE

    try:
        x = float(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"loudness in LUFS, e.g. -14, got {v!r}") from None
    if not LOUDNESS_RANGE[0] <= x <= LOUDNESS_RANGE[1]:  # NaN too
        raise argparse.ArgumentTypeError(f"loudness from {LOUDNESS_RANGE[0]:g} to {LOUDNESS_RANGE[1]:g} LUFS, got {v}")
    return x


def _threads(v: str) -> int:
    if not v.isdigit() or int(v) < 1:
        raise argparse.ArgumentTypeError(f"a whole number of threads >= 1, got {v!r}")
    return int(v)


def _generations(v: str) -> int:
    if not v.isdigit() or not 1 <= int(v) <= 4096:
        raise argparse.ArgumentTypeError(f"a whole number of generations from 1 to 4096, got {v!r}")
    return int(v)


def _thread_option(p: argparse.ArgumentParser, adaptive: bool = False) -> None:
    default = ("all cores while they are fastest, one fewer while another program (your DAW) keeps a core busy, "
               "measured step by step" if adaptive else "all cores but one, leaving one to your DAW")
    p.add_argument("--threads", type=_threads, default=None,
                   help=f"CPU threads for the model (default: {default}; or LOOPGEN_THREADS)")


def _output_options(p: argparse.ArgumentParser) -> None:
    from .params import OUTPUT_FORMATS

    p.add_argument("--output-rate", type=_rate, default=None, help="write files at this rate, e.g. 44100 or 48000 "
                   "(resampled with soxr; default: the model's 32000)")
    p.add_argument("--output-format", choices=list(OUTPUT_FORMATS), default=None,
                   help="sample format of the files (default float: 32-bit float WAV)")
    p.add_argument("--loudness", type=_lufs, default=None, metavar="LUFS",
                   help="normalise each file to this integrated loudness, e.g. -14 (needs loopgen[loudness])")


class Parser(argparse.ArgumentParser):
    """Usage errors as one line, like every other error (`--help` still prints the whole usage)."""

    def error(self, message: str):  # noqa: ANN201
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="loopgen", description="MusicGen as a live instrument.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    r = sub.add_parser("render", help="generate audio from a text prompt into a WAV file")
    r.add_argument("prompt", nargs="?", help="text prompt, e.g. 'lo-fi beat, 90 bpm'")
    r.add_argument("--from", dest="from_take", metavar="TAKE.json",
                   help="make a saved take again, bit for bit, from its sidecar (its model, seed and live changes)")
    r.add_argument("-o", "--output", required=True, help="output WAV path")
    r.add_argument("--seconds", type=_seconds, default=None,
                   help=f"seconds of new audio (default {DEFAULT_SECONDS:g}; at most {MAX_NEW_SECONDS:g} without "
                        "--allow-long)")
    r.add_argument("--allow-long", action="store_true", help=f"allow --seconds over {MAX_NEW_SECONDS:g}")
    r.add_argument("--model", default=None, help=f"hub id, folder or random:tiny|small (default {DEFAULT_MODEL})")
    r.add_argument("--continue", dest="continue_from", metavar="IN.WAV", help="continue this audio file")
    r.add_argument("--melody", metavar="RIFF.WAV", help="a melody model follows this audio's melody (its chroma; "
                   "Demucs stems when installed, else the raw audio)")
    r.add_argument("--seed", type=int, default=None)
    d, g = SamplingParams(), MagnetParams()  # the one set of defaults of each family
    r.add_argument("--temperature", type=_finite, default=None,
                   help=f"default {d.temperature:g} (MAGNeT: {g.temperature:g}, annealed to 0 in each stage)")
    r.add_argument("--top-k", type=int, default=None, help=f"default {d.top_k} (MAGNeT: {g.top_k})")
    r.add_argument("--top-p", type=_finite, default=None, help=f"default {d.top_p:g} (MAGNeT: {g.top_p:g})")
    r.add_argument("--cfg", type=_finite, default=None, help=f"classifier-free guidance coefficient (default "
                   f"{d.cfg_coef:g}; MAGNeT: {g.max_cfg_coef:g} while masked, annealed to --min-cfg)")
    r.add_argument("--greedy", action="store_true", help="take the most likely token (no sampling)")
    mg = r.add_argument_group("MAGNeT decoding (audiocraft's options; defaults per model family)")
    mg.add_argument("--decoding-steps", default=None, metavar="N,N,N,N",
                    help=f"passes per codebook stage (default {','.join(map(str, g.decoding_steps))})")
    mg.add_argument("--span-arrangement", choices=SPAN_ARRANGEMENTS, default=None)
    mg.add_argument("--span-scoring", choices=SPAN_SCORINGS, default=None)
    mg.add_argument("--min-cfg", type=_finite, default=None,
                    help=f"guidance once unmasked (default {g.min_cfg_coef:g})")
    r.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    r.add_argument("--dtype", default=None, help=DTYPE_HELP + " (default: auto; --from: the take's own)")
    _output_options(r)
    _thread_option(r)
    r.set_defaults(func=cmd_render)

    m = sub.add_parser("models", help="list known models and which are in the local cache")
    m.set_defaults(func=cmd_models)

    sv = sub.add_parser("serve", help="run the daemon: WebSocket + OSC control, live audio out")
    sv.add_argument("-q", "--quiet", action="count", default=0,
                    help="only warnings and errors (default: also one line per take started, saved or refused)")
    sv.add_argument("-v", "--verbose", action="count", default=0, help="also progress and debug lines")
    sv.add_argument("--model", action="append", default=None,
                    help=f"hub id, folder or random:* (default {DEFAULT_MODEL}); give it again to serve several "
                    "models (one worker each; the first is the default, requests choose with `model`)")
    sv.add_argument("--device", default="auto")
    sv.add_argument("--dtype", default="auto", help=DTYPE_HELP)
    sv.add_argument("--host", default="127.0.0.1", help="listen address (non-loopback needs a token)")
    _output_options(sv)
    _thread_option(sv, adaptive=True)
    sv.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                    help="a browser origin (e.g. https://my-tool.example) allowed to connect; '*' for any")
    sv.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                    help="a host name clients may reach the daemon by (e.g. studio-box.local), besides IP "
                         "addresses, localhost and --host; others are refused (DNS rebinding)")
    sv.add_argument("--read-dir", action="append", default=[], metavar="DIR",
                    help="a folder OSC /continue may read audio from (besides the takes folder and your home)")
    sv.add_argument("--ws-port", type=_port, default=8765)
    sv.add_argument("--osc-port", type=_port, default=9000)
    sv.add_argument("--osc-reply", type=_hostport, default=None, metavar="HOST:PORT",
                    help="send OSC replies here (default: back to the sender)")
    sv.add_argument("--osc-allow", nargs="*", default=[], metavar="HOST", help="non-loopback OSC senders to accept")
    sv.add_argument("--audio-device", default="default",
                    help="output NAME or ID, jack (a JACK server, through its own ports), or none (headless)")
    sv.add_argument("--connect", type=_ports, default=None, metavar="PORT[,PORT]",
                    help="JACK: the ports loopgen's out_1, out_2 go to (default: the system's playback ports; "
                         "none: leave them unconnected)")
    sv.add_argument("--jack-server", default=None, metavar="NAME",
                    help="the JACK server to use (default: JACK's own, $JACK_DEFAULT_SERVER)")
    sv.add_argument("--jack-transport", action="store_true",
                    help="follow JACK's transport: the timebase master's tempo is the default bpm, loops start on "
                         "its bars (e.g. Ardour as master)")
    sv.add_argument("--midi", default=None, metavar="PORT",
                    help="MIDI input port name, or jack (a JACK MIDI input port, loopgen:midi_in)")
    sv.add_argument("--midi-map", default=None, metavar="FILE", help="TOML mapping (default: the shipped one)")
    sv.add_argument("--loops-dir", default=str(Path.home() / "loopgen-loops"), help="where finished audio is saved")
    sv.add_argument("--token", default=None, help="required in hello (generated when --host is not loopback)")
    sv.add_argument("--link", action="store_true",
                    help="join Ableton Link: its tempo is the default bpm, loops start on its bars (needs loopgen[link])")
    sv.add_argument("--link-bpm", type=_tempo, default=120.0, metavar="BPM",
                    help="the tempo of a Link session loopgen starts (when it finds no other peer)")
    sv.add_argument("--cuda-graphs", action="store_true",
                    help="replay the model step and the decode as CUDA graphs (a CUDA device; fewer launches per step)")
    sv.add_argument("--max-generations", type=_generations, default=None, metavar="N",
                    help="running generations in all, beyond which requests are answered busy (default: 32 on a "
                         "CPU, 128 on a GPU); each client may run 8")
    sv.add_argument("--admission", choices=("realtime", "count"), default="realtime",
                    help="realtime (default): a new stream is refused (busy) when it would take the running streams "
                         "below real time, as measured on this machine; count: only --max-generations limits")
    rg = sv.add_argument_group("Ray (past one machine: pip install 'loopgen[ray]'; docs/scale.md)")
    rg.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                    help="run the model work on Ray actors: alone, a Ray started here (bound to 127.0.0.1); auto or "
                    "HOST:PORT joins a running cluster (ray start --head). Ray has no authentication: keep the "
                    "cluster on a trusted network")
    rg.add_argument("--workers", type=_workers, default=(), metavar="MODEL=N[,MODEL=N]",
                    help="actors per model, e.g. small=2,melody=1 (default 1 each); each takes one GPU, or "
                    "--worker-threads cores")
    rg.add_argument("--worker-threads", type=int, default=1, metavar="N",
                    help="CPU cores (torch threads) per actor on a CPU cluster (default 1)")
    sv.set_defaults(func=cmd_serve)

    cl = sub.add_parser("clients", help="copy the Max / Pd patches and the browser page to a folder")
    cl.add_argument("--copy", required=True, metavar="DIR")
    cl.set_defaults(func=cmd_clients)

    d = sub.add_parser("devices", help="list audio outputs and MIDI inputs")
    d.set_defaults(func=cmd_devices)

    se = sub.add_parser("send", help="talk to a running daemon: generate, stop, ping")
    se.add_argument("action", choices=["generate", "stop", "ping"])
    se.add_argument("text", nargs="?", default="",
                    help="the prompt (generate), or the id to stop (stop; none: the latest generation)")
    se.add_argument("--url", type=ws_url, default="ws://127.0.0.1:8765",
                    help="the daemon: ws://HOST:PORT, the page address it prints, or HOST:PORT")
    se.add_argument("--token", default=None)
    se.add_argument("--seconds", type=_seconds, default=None)
    se.add_argument("--bars", type=_finite, default=None)
    se.add_argument("--bpm", type=_finite, default=None)
    se.add_argument("--seed", type=int, default=None)
    se.add_argument("--temperature", type=_finite, default=None)
    se.add_argument("--top-k", type=int, default=None)
    se.add_argument("--cfg", type=_finite, default=None)
    se.set_defaults(func=cmd_send)

    wk = sub.add_parser("workers", help="list a running daemon's model workers: model, device, node, pid, load")
    wk.add_argument("--url", type=ws_url, default="ws://127.0.0.1:8765",
                    help="the daemon: ws://HOST:PORT, the page address it prints, or HOST:PORT")
    wk.add_argument("--token", default=None)
    wk.set_defaults(func=cmd_workers)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except LoopgenError as e:
        print(f"loopgen: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("loopgen: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
