import { deflateSync, inflateSync } from 'node:zlib';
import { HpError } from '@hpseg/core';

/** A decoded single-channel PNG: grey levels or palette indices, never colours. */
export interface IndexPng {
  width: number;
  height: number;
  /** `[H, W]` values (grey level or palette index), row-major. */
  data: Uint16Array;
  colorType: number;
  bitDepth: number;
}

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const; // [x0, y0, dx, dy]

function fail(what: string, got: string, source: string): never {
  throw new HpError('E_FORMAT', `decodeLabelPng: ${what}${source ? ` in ${source}` : ''}: ${got}`);
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Reverses the per-row PNG filters of one (sub-)image in place; returns the raw scanlines. */
function unfilter(
  src: Uint8Array,
  offset: number,
  rows: number,
  rowBytes: number,
  bpp: number,
  source: string,
): Uint8Array {
  const out = new Uint8Array(rows * rowBytes);
  for (let y = 0; y < rows; y++) {
    const f = src[offset + y * (rowBytes + 1)];
    const s = offset + y * (rowBytes + 1) + 1;
    const o = y * rowBytes;
    for (let x = 0; x < rowBytes; x++) {
      const raw = src[s + x]!;
      const a = x >= bpp ? out[o + x - bpp]! : 0;
      const b = y > 0 ? out[o - rowBytes + x]! : 0;
      const c = x >= bpp && y > 0 ? out[o - rowBytes + x - bpp]! : 0;
      let v: number;
      switch (f) {
        case 0:
          v = raw;
          break;
        case 1:
          v = raw + a;
          break;
        case 2:
          v = raw + b;
          break;
        case 3:
          v = raw + ((a + b) >> 1);
          break;
        case 4:
          v = raw + paeth(a, b, c);
          break;
        default:
          fail('unknown row filter', `expected 0..4, got ${String(f)}`, source);
      }
      out[o + x] = v & 0xff;
    }
  }
  return out;
}

/**
 * Decodes a label-map PNG losslessly: 8/16-bit (and 1/2/4-bit) greyscale give the grey level,
 * palette PNGs give the palette INDEX (not the colour), greyscale+alpha gives the grey level.
 * Truecolour PNGs are refused (`E_FORMAT`): a label map must have one channel.
 * (sharp/libvips expands palettes to RGB, hence this small decoder.)
 */
export function decodeLabelPng(bytes: Uint8Array, source = ''): IndexPng {
  if (bytes.length < 8 || SIGNATURE.some((v, i) => bytes[i] !== v))
    fail('not a PNG file', 'bad signature', source);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 8;
  let width = 0;
  let height = 0;
  let bitDepth = 0;
  let colorType = -1;
  let interlace = 0;
  const idat: Uint8Array[] = [];
  while (pos + 8 <= bytes.length) {
    const len = view.getUint32(pos);
    const type = String.fromCharCode(bytes[pos + 4]!, bytes[pos + 5]!, bytes[pos + 6]!, bytes[pos + 7]!);
    const data = bytes.subarray(pos + 8, pos + 8 + len);
    if (data.length !== len) fail('truncated chunk', `${type} needs ${len} bytes, file ends`, source);
    if (type === 'IHDR') {
      width = view.getUint32(pos + 8);
      height = view.getUint32(pos + 12);
      bitDepth = bytes[pos + 16]!;
      colorType = bytes[pos + 17]!;
      interlace = bytes[pos + 20]!;
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      break;
    }
    pos += 12 + len;
  }
  if (colorType < 0 || width === 0 || height === 0) fail('missing IHDR', 'no image header', source);
  if (colorType === 2 || colorType === 6) {
    fail(
      'label PNG has colour channels',
      `expected greyscale or palette (one channel), got ${colorType === 2 ? 'RGB' : 'RGBA'}`,
      source,
    );
  }
  const channels = colorType === 4 ? 2 : 1;
  if (![1, 2, 4, 8, 16].includes(bitDepth)) fail('unsupported bit depth', `got ${bitDepth}`, source);
  if (idat.length === 0) fail('no image data', 'no IDAT chunk', source);
  let raw: Uint8Array;
  try {
    raw = inflateSync(Buffer.concat(idat));
  } catch (error) {
    fail('corrupt compressed data', (error as Error).message, source);
  }
  const bitsPerPixel = bitDepth * channels;
  const bpp = Math.max(1, bitsPerPixel >> 3);
  const out = new Uint16Array(width * height);
  const readPass = (
    offset: number,
    pw: number,
    ph: number,
    x0: number,
    y0: number,
    dx: number,
    dy: number,
  ): number => {
    if (pw === 0 || ph === 0) return offset;
    const rowBytes = Math.ceil((pw * bitsPerPixel) / 8);
    if (offset + ph * (rowBytes + 1) > raw.length)
      fail(
        'truncated image data',
        `expected ${ph * (rowBytes + 1)} bytes, got ${raw.length - offset}`,
        source,
      );
    const lines = unfilter(raw, offset, ph, rowBytes, bpp, source);
    for (let y = 0; y < ph; y++) {
      const row = lines.subarray(y * rowBytes, (y + 1) * rowBytes);
      const oy = (y0 + y * dy) * width;
      for (let x = 0; x < pw; x++) {
        let v: number;
        if (bitDepth === 16) v = (row[x * 2 * channels]! << 8) | row[x * 2 * channels + 1]!;
        else if (bitDepth === 8) v = row[x * channels]!;
        else {
          const bit = x * bitDepth;
          v = (row[bit >> 3]! >> (8 - bitDepth - (bit & 7))) & ((1 << bitDepth) - 1);
        }
        out[oy + x0 + x * dx] = v;
      }
    }
    return offset + ph * (rowBytes + 1);
  };
  if (interlace === 0) readPass(0, width, height, 0, 0, 1, 1);
  else {
    let offset = 0;
    for (const [x0, y0, dx, dy] of ADAM7) {
      offset = readPass(offset, Math.ceil((width - x0) / dx), Math.ceil((height - y0) / dy), x0, y0, dx, dy);
    }
  }
  return { width, height, data: out, colorType, bitDepth };
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** Encodes `[H, W]` uint8 values as an 8-bit greyscale PNG (lossless; what PIL writes for mode "L"). */
export function encodeGrayPng(data: Uint8Array, height: number, width: number): Uint8Array {
  if (data.length !== height * width) {
    throw new HpError(
      'E_SHAPE',
      `encodeGrayPng: data has the wrong length: expected ${height}*${width} = ${height * width}, got ${data.length}`,
    );
  }
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const rows = new Uint8Array(height * (width + 1));
  for (let y = 0; y < height; y++) rows.set(data.subarray(y * width, (y + 1) * width), y * (width + 1) + 1); // filter 0
  const idat = deflateSync(rows);
  return Buffer.concat([
    Buffer.from(SIGNATURE),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', new Uint8Array(0)),
  ]);
}
