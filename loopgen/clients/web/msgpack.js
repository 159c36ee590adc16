// Minimal MessagePack for loopgen's protocol: maps, arrays, strings, binary, numbers, booleans, nil.
export function encode(value) {
  const bytes = [];
  const u8 = (b) => bytes.push(b & 0xff);
  const u16 = (n) => { u8(n >> 8); u8(n); };
  const u32 = (n) => { u8(n >>> 24); u8(n >>> 16); u8(n >>> 8); u8(n); };
  const f64 = (x) => { const v = new DataView(new ArrayBuffer(8)); v.setFloat64(0, x); for (let i = 0; i < 8; i++) u8(v.getUint8(i)); };
  const str = (s) => {
    const b = new TextEncoder().encode(s);
    if (b.length < 32) u8(0xa0 | b.length); else if (b.length < 256) { u8(0xd9); u8(b.length); }
    else if (b.length < 65536) { u8(0xda); u16(b.length); } else { u8(0xdb); u32(b.length); }
    for (const x of b) u8(x);
  };
  const walk = (v) => {
    if (v === null || v === undefined) u8(0xc0);
    else if (v === true) u8(0xc3);
    else if (v === false) u8(0xc2);
    else if (typeof v === "number") {
      if (Number.isInteger(v) && v >= 0 && v < 128) u8(v);
      else if (Number.isInteger(v) && v >= -32 && v < 0) u8(0xe0 | (v + 32));
      else if (Number.isInteger(v) && v >= 0 && v < 2 ** 32) { u8(0xce); u32(v); }
      else { u8(0xcb); f64(v); }
    } else if (typeof v === "string") str(v);
    else if (v instanceof Uint8Array || v instanceof ArrayBuffer) {
      const b = v instanceof Uint8Array ? v : new Uint8Array(v);
      if (b.length < 256) { u8(0xc4); u8(b.length); } else if (b.length < 65536) { u8(0xc5); u16(b.length); }
      else { u8(0xc6); u32(b.length); }
      for (const x of b) u8(x);
    } else if (Array.isArray(v)) {
      if (v.length < 16) u8(0x90 | v.length); else { u8(0xdc); u16(v.length); }
      v.forEach(walk);
    } else {
      const keys = Object.keys(v).filter((k) => v[k] !== undefined);
      if (keys.length < 16) u8(0x80 | keys.length); else { u8(0xde); u16(keys.length); }
      for (const k of keys) { str(k); walk(v[k]); }
    }
  };
  walk(value);
  return new Uint8Array(bytes);
}

export function decode(buffer) {
  const view = new DataView(buffer instanceof ArrayBuffer ? buffer : buffer.buffer);
  const bytes = new Uint8Array(view.buffer);
  let p = 0;
  const text = (n) => { const s = new TextDecoder().decode(bytes.subarray(p, p + n)); p += n; return s; };
  const bin = (n) => { const b = bytes.slice(p, p + n); p += n; return b; };
  const arr = (n) => { const a = []; for (let i = 0; i < n; i++) a.push(read()); return a; };
  const map = (n) => { const m = {}; for (let i = 0; i < n; i++) { const k = read(); m[k] = read(); } return m; };
  function read() {
    const t = bytes[p++];
    if (t < 0x80) return t;
    if (t >= 0xe0) return t - 256;
    if ((t & 0xf0) === 0x80) return map(t & 0x0f);
    if ((t & 0xf0) === 0x90) return arr(t & 0x0f);
    if ((t & 0xe0) === 0xa0) return text(t & 0x1f);
    let v;
    switch (t) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: v = bytes[p]; p += 1; return bin(v);
      case 0xc5: v = view.getUint16(p); p += 2; return bin(v);
      case 0xc6: v = view.getUint32(p); p += 4; return bin(v);
      case 0xca: v = view.getFloat32(p); p += 4; return v;
      case 0xcb: v = view.getFloat64(p); p += 8; return v;
      case 0xcc: return bytes[p++];
      case 0xcd: v = view.getUint16(p); p += 2; return v;
      case 0xce: v = view.getUint32(p); p += 4; return v;
      case 0xcf: v = Number(view.getBigUint64(p)); p += 8; return v;
      case 0xd0: return view.getInt8(p++);
      case 0xd1: v = view.getInt16(p); p += 2; return v;
      case 0xd2: v = view.getInt32(p); p += 4; return v;
      case 0xd3: v = Number(view.getBigInt64(p)); p += 8; return v;
      case 0xd9: v = bytes[p]; p += 1; return text(v);
      case 0xda: v = view.getUint16(p); p += 2; return text(v);
      case 0xdb: v = view.getUint32(p); p += 4; return text(v);
      case 0xdc: v = view.getUint16(p); p += 2; return arr(v);
      case 0xdd: v = view.getUint32(p); p += 4; return arr(v);
      case 0xde: v = view.getUint16(p); p += 2; return map(v);
      case 0xdf: v = view.getUint32(p); p += 4; return map(v);
      default: throw new Error("msgpack: unsupported type 0x" + t.toString(16));
    }
  }
  return read();
}
