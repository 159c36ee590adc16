// AudioWorklet: a jitter buffer. Streamed PCM is queued; playback starts once `prebuffer` frames are held and
// plays silence (counted) if the queue runs dry.
class LoopgenPlayer extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = options.processorOptions || {};
    this.channels = o.channels || 1;
    this.size = (o.seconds || 60) * sampleRate;
    this.buf = new Float32Array(this.size * this.channels);
    this.w = 0; this.r = 0; this.played = 0; this.underruns = 0; this.received = 0;
    this.prebuffer = Math.round((o.prebufferMs || 150) / 1000 * sampleRate);
    this.started = false;
    this.port.onmessage = (e) => {
      const d = e.data;
      if (d.pcm) {
        const x = new Float32Array(d.pcm);
        const frames = x.length / this.channels;
        for (let i = 0; i < x.length; i++) this.buf[(this.w * this.channels + i) % this.buf.length] = x[i];
        this.w += frames; this.received += frames;
        this.ended = false;
      } else if (d.end) { this.ended = true; this.prebuffer = 0; }
      else if (d.loop) {  // the finished loop: take over from the stream exactly at the loop's length
        this.loop = new Float32Array(d.loop); this.loopLen = this.loop.length / this.channels;
        this.loopPos = Math.max(0, this.r - this.loopLen) % this.loopLen;
      }
      else if (d.reset) { this.w = this.r = 0; this.started = false; this.ended = false; this.loop = null; }
    };
    this.tick = 0;
  }
  process(inputs, outputs) {
    const out = outputs[0];
    const n = out[0].length;
    if (!this.started && this.w - this.r >= this.prebuffer) this.started = true;
    let dry = false;
    if (this.loop && this.r >= this.loopLen) {  // the stream has played the loop's length: loop the take
      for (let i = 0; i < n; i++) {
        for (let c = 0; c < out.length; c++) out[c][i] = this.loop[this.loopPos * this.channels + Math.min(c, this.channels - 1)];
        this.loopPos = (this.loopPos + 1) % this.loopLen; this.loopPlayed = (this.loopPlayed || 0) + 1;
      }
      if (++this.tick % 20 === 0) this.report();
      return true;
    }
    for (let i = 0; i < n; i++) {
      const ok = this.started && this.r < this.w;
      for (let c = 0; c < out.length; c++) {
        out[c][i] = ok ? this.buf[(this.r * this.channels + Math.min(c, this.channels - 1)) % this.buf.length] : 0;
      }
      if (ok) { this.r++; this.played++; } else if (this.started) dry = true;
    }
    if (dry) { if (!this.ended) this.underruns++; this.started = false; }
    if (++this.tick % 20 === 0) this.report();
    return true;
  }
  report() {
    this.port.postMessage({ played: this.played, received: this.received, held: this.w - this.r,
                           underruns: this.underruns, loopPlayed: this.loopPlayed || 0 });
  }
}
registerProcessor("loopgen-player", LoopgenPlayer);
