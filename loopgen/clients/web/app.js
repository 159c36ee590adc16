// The loopgen page: WebSocket (msgpack) to the daemon that served it, streamed PCM into an AudioWorklet jitter
// buffer, a scrolling waveform, and a crossfader that morphs between two prompts while it plays.
import { decode, encode } from "./msgpack.js";

const $ = (id) => document.getElementById(id);
const stats = (window.loopgenStats = { chunks: 0, samplesReceived: 0, workletPlayed: 0, workletReceived: 0, underruns: 0,
                                       done: null, loopPlayed: 0, started: 0 });
let ws, welcome, channels = 1, ctx, node, current = null, running = false, lastDone = null, lastAudio = [], t0 = 0, seq = 0;
const token = new URLSearchParams(location.search).get("token") || undefined;  // needed off loopback
const recent = new Float32Array(32000 * 4);  // ~4 s of waveform
let recentPos = 0;

function send(msg) { ws.send(encode(msg)); }

function connect() {
  ws = new WebSocket(`ws://${location.host}/`);
  ws.binaryType = "arraybuffer";
  ws.onopen = () => send({ type: "hello", protocol: 1, client: "loopgen-web", token });
  ws.onclose = () => { $("status").textContent = "disconnected: reload to reconnect"; };
  ws.onmessage = (e) => onEvent(decode(e.data));
}

async function audio() {
  if (ctx) return;
  ctx = new AudioContext({ sampleRate: welcome.sample_rate });
  await ctx.audioWorklet.addModule("worklet.js");
  node = new AudioWorkletNode(ctx, "loopgen-player", {
    outputChannelCount: [2], processorOptions: { channels, seconds: 120, prebufferMs: 150 },
  });
  node.port.onmessage = (e) => {
    stats.workletPlayed = e.data.played; stats.workletReceived = e.data.received; stats.underruns = e.data.underruns;
    stats.loopPlayed = e.data.loopPlayed;
    $("buffered").textContent = `${(e.data.held / welcome.sample_rate * 1000).toFixed(0)} ms`;
    $("underruns").textContent = e.data.underruns;
  };
  node.connect(ctx.destination);
}

function speedText(rtf) {  // the daemon timed its model at start: can it play live here?
  if (rtf === null || rtf === undefined) return "";
  return rtf >= 1 ? ` · ${rtf.toFixed(2)}x real time: plays live`
                  : ` · ${rtf.toFixed(2)}x real time: takes arrive after they are made`;
}

function onEvent(ev) {
  switch (ev.type) {
    case "welcome":
      welcome = ev;
      $("status").textContent = `${ev.model} · ${ev.sample_rate} Hz · ${ev.channels} ch` + speedText(ev.realtime_factor);
      modelMenu(ev.models || []);
      $("lookahead").textContent = `${(ev.latency_frames / ev.frame_rate * 1000).toFixed(0)} ms`;
      break;
    case "started":
      stats.started++; running = true;
      $("stop").disabled = false; $("generate").disabled = false;
      break;
    case "audio": {
      if (ev.id !== current) return;
      const pcm = widen(new Float32Array(ev.pcm.buffer.slice(ev.pcm.byteOffset, ev.pcm.byteOffset + ev.pcm.byteLength)), ev.channels);
      if (stats.chunks === 0) $("latency").textContent = `${(performance.now() - t0).toFixed(0)} ms`;
      stats.chunks++; stats.samplesReceived += pcm.length / channels;
      lastAudio.push(pcm);
      node.port.postMessage({ pcm: pcm.slice().buffer });
      for (let i = 0; i < pcm.length; i += channels) { recent[recentPos] = pcm[i]; recentPos = (recentPos + 1) % recent.length; }
      break;
    }
    case "progress":
      $("progress").value = ev.frames / Math.max(1, ev.total);
      $("progressText").textContent = `${ev.frames}/${ev.total} frames · ${ev.rtf.toFixed(2)}x real time`;
      break;
    case "done":
      if (ev.id !== current) return;  // a take we stopped to start another
      stats.done = ev.path; lastDone = ev.id; running = false;
      $("saved").textContent = `saved ${ev.path} (${ev.seconds.toFixed(2)} s)`;
      $("stop").disabled = true; $("continue").disabled = false; $("extend").disabled = false;
      node.port.postMessage({ end: true });
      offerTake(ev.path);
      break;
    case "error":
      if (ev.id === current) { running = false; $("generate").disabled = false; }
      $("saved").textContent = `error: ${ev.message}`;
      break;
  }
}

async function offerTake(path) {
  // the finished take from the daemon: a download link, and (a loop) looped playback once the stream reaches its end
  const name = path.split(/[\\/]/).pop();
  const url = `/takes/${encodeURIComponent(name)}` + (token ? `?token=${encodeURIComponent(token)}` : "");
  const a = $("download"); a.href = url; a.download = name; a.hidden = false;
  if (!$("loop").checked) return;
  const buf = await ctx.decodeAudioData(await (await fetch(url)).arrayBuffer());
  const ch = channels, data = new Float32Array(buf.length * ch);
  for (let c = 0; c < ch; c++) { const x = buf.getChannelData(Math.min(c, buf.numberOfChannels - 1)); for (let i = 0; i < buf.length; i++) data[i * ch + c] = x[i]; }
  node.port.postMessage({ loop: data.buffer }, [data.buffer]);
  $("looping").textContent = `looping ${(buf.length / buf.sampleRate).toFixed(2)} s`;
}

function modelMenu(models) {
  // several models served: a menu (the default first); a take's audio is widened to the widest model's channels
  channels = Math.max(welcome.channels, ...models.map((m) => m.channels));
  const menu = $("model");
  menu.replaceChildren(...models.map((m) => new Option(`${m.name}${m.channels > 1 ? " (stereo)" : ""}`, m.name)));
  $("modelLabel").hidden = models.length < 2;
}

function widen(pcm, from) {  // interleaved [n, from] -> [n, channels] (a mono take on both sides)
  if (!from || from === channels) return pcm;
  const n = pcm.length / from, out = new Float32Array(n * channels);
  for (let i = 0; i < n; i++) for (let c = 0; c < channels; c++) out[i * channels + c] = pcm[i * from + Math.min(c, from - 1)];
  return out;
}

function prompts() {
  const x = Number($("morph").value);
  return [[$("promptA").value, 1 - x], [$("promptB").value, x]].filter(([t, w]) => t && w > 0);
}

function params() {
  return { bars: Number($("bars").value), bpm: Number($("bpm").value), loop: $("loop").checked, temperature: Number($("temperature").value),
           cfg_coef: Number($("cfg").value), top_k: Number($("topk").value),
           ...($("modelLabel").hidden ? {} : { model: $("model").value }) };
}

async function start(kind, extra) {
  $("generate").disabled = true;  // until the server answers: a double-click makes one take, not an orphan
  if (running && current) send({ type: "stop", id: current });  // one take at a time: the playing one is saved
  await audio();
  await ctx.resume();
  node.port.postMessage({ reset: true });
  $("download").hidden = true; $("looping").textContent = "";
  stats.chunks = 0; stats.samplesReceived = 0; lastAudio = [];
  current = `web-${++seq}`; t0 = performance.now();
  send({ type: kind, id: current, prompts: prompts(), ...params(), ...extra });
}

$("generate").onclick = () => start("generate", {});
$("continue").onclick = () => {
  const all = new Float32Array(lastAudio.reduce((n, a) => n + a.length, 0));
  let o = 0; for (const a of lastAudio) { all.set(a, o); o += a.length; }
  start("continue", { audio: new Uint8Array(all.buffer), sample_rate: welcome.sample_rate, channels, format: "f32le" });
};
$("extend").onclick = async () => {
  await audio(); node.port.postMessage({ reset: true });
  current = `web-${++seq}`; t0 = performance.now(); stats.chunks = 0;
  send({ type: "extend", id: current, of: lastDone, bars: Number($("bars").value) });
};
$("stop").onclick = () => current && send({ type: "stop", id: current });

let morphTimer = null;
$("morph").oninput = () => {
  $("morphOut").textContent = Number($("morph").value).toFixed(2);
  clearTimeout(morphTimer);  // at most one prompt change per 100 ms while dragging
  morphTimer = setTimeout(() => current && send({ type: "set", id: current, prompts: prompts() }), 100);
};
for (const [id, key, digits] of [["temperature", "temperature", 2], ["cfg", "cfg_coef", 1]]) {
  $(id).oninput = () => {
    $(id + "Out").textContent = Number($(id).value).toFixed(digits);
    if (current) send({ type: "set", id: current, [key]: Number($(id).value) });
  };
}

function draw() {
  const c = $("wave"), g = c.getContext("2d");
  g.fillStyle = "#0e0e12"; g.fillRect(0, 0, c.width, c.height);
  g.strokeStyle = "#7c9cff"; g.beginPath();
  const step = recent.length / c.width;
  let peak = 0.05;  // auto-scale quiet material, never zoom into silence
  for (let i = 0; i < recent.length; i += 64) peak = Math.max(peak, Math.abs(recent[i]));
  for (let x = 0; x < c.width; x++) {
    let lo = 1, hi = -1;
    for (let k = 0; k < step; k += 8) {
      const v = recent[(recentPos + Math.floor(x * step + k)) % recent.length];
      lo = Math.min(lo, v); hi = Math.max(hi, v);
    }
    g.moveTo(x + 0.5, (1 - hi / peak) * c.height / 2); g.lineTo(x + 0.5, (1 - lo / peak) * c.height / 2);
  }
  g.stroke();
  requestAnimationFrame(draw);
}
requestAnimationFrame(draw);
connect();
