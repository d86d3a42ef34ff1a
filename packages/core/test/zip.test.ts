import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { crc32, type HostTensor, readPth, readZip } from '../src/index.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const fixture = (name: string): Uint8Array => readFileSync(join(FIXTURES, name));

/** All entries of a zip, via our reader. */
function entriesOf(bytes: Uint8Array): [string, Uint8Array][] {
  const zip = readZip(bytes);
  return [...zip.entries.keys()].map((name) => [name, zip.read(name)]);
}

/** A zip in which every 32-bit size and offset is 0xFFFFFFFF and the real values sit in zip64 extras. */
function zip64(files: [string, Uint8Array][]): Uint8Array {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  let offset = 0;
  const central: Uint8Array[] = [];
  const push = (b: Uint8Array): void => {
    parts.push(b);
    offset += b.length;
  };
  for (const [name, data] of files) {
    const n = enc.encode(name);
    const local = new Uint8Array(30 + n.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 45, true);
    lv.setUint32(14, crc32(data), true);
    lv.setUint32(18, data.length, true);
    lv.setUint32(22, data.length, true);
    lv.setUint16(26, n.length, true);
    local.set(n, 30);
    const at = offset;
    push(local);
    push(data);
    const c = new Uint8Array(46 + n.length + 28);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(6, 45, true);
    cv.setUint32(16, crc32(data), true);
    cv.setUint32(20, 0xffffffff, true);
    cv.setUint32(24, 0xffffffff, true);
    cv.setUint16(28, n.length, true);
    cv.setUint16(30, 28, true);
    cv.setUint32(42, 0xffffffff, true);
    c.set(n, 46);
    const e = 46 + n.length;
    cv.setUint16(e, 0x0001, true);
    cv.setUint16(e + 2, 24, true);
    cv.setBigUint64(e + 4, BigInt(data.length), true);
    cv.setBigUint64(e + 12, BigInt(data.length), true);
    cv.setBigUint64(e + 20, BigInt(at), true);
    central.push(c);
  }
  const cdStart = offset;
  for (const c of central) push(c);
  const cdSize = offset - cdStart;
  const z = new Uint8Array(56);
  const zv = new DataView(z.buffer);
  zv.setUint32(0, 0x06064b50, true);
  zv.setBigUint64(4, 44n, true);
  zv.setBigUint64(24, BigInt(files.length), true);
  zv.setBigUint64(32, BigInt(files.length), true);
  zv.setBigUint64(40, BigInt(cdSize), true);
  zv.setBigUint64(48, BigInt(cdStart), true);
  const zAt = offset;
  push(z);
  const loc = new Uint8Array(20);
  const locv = new DataView(loc.buffer);
  locv.setUint32(0, 0x07064b50, true);
  locv.setBigUint64(8, BigInt(zAt), true);
  locv.setUint32(16, 1, true);
  push(loc);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, 0xffff, true);
  ev.setUint16(10, 0xffff, true);
  ev.setUint32(12, 0xffffffff, true);
  ev.setUint32(16, 0xffffffff, true);
  push(eocd);
  const out = new Uint8Array(offset);
  let p = 0;
  for (const b of parts) {
    out.set(b, p);
    p += b.length;
  }
  return out;
}

function sameTensors(a: Map<string, HostTensor>, b: Map<string, HostTensor>): void {
  expect([...b.keys()]).toEqual([...a.keys()]);
  for (const [k, t] of a) {
    expect(b.get(k)!.shape, k).toEqual(t.shape);
    expect(b.get(k)!.data, k).toEqual(t.data);
  }
}

describe('zip reader', () => {
  const original = readPth(fixture('state_dict.pth')) as Map<string, HostTensor>;

  it('reads a checkpoint re-packed with deflate and another archive prefix', () => {
    const files = entriesOf(fixture('state_dict.pth')).map(([n, d]): [string, Uint8Array] => [
      n.replace(/^state_dict\//, 'my model v2/'),
      d,
    ]);
    const deflated = zipSync(Object.fromEntries(files.map(([n, d]) => [n, [d, { level: 6 }]])));
    const zip = readZip(deflated);
    expect([...zip.entries.values()].some((e) => e.method === 8)).toBe(true);
    sameTensors(original, readPth(deflated) as Map<string, HostTensor>);
  });

  it('reads zip64 central-directory records and extra fields', () => {
    const bytes = zip64(entriesOf(fixture('state_dict.pth')));
    sameTensors(original, readPth(bytes) as Map<string, HostTensor>);
  });

  it('detects a corrupted stored entry by its CRC-32', () => {
    const bytes = Uint8Array.from(fixture('state_dict.pth'));
    const zip = readZip(bytes);
    const entry = zip.entries.get('state_dict/data/2')!;
    const view = new DataView(bytes.buffer);
    const start =
      entry.localHeaderOffset +
      30 +
      view.getUint16(entry.localHeaderOffset + 26, true) +
      view.getUint16(entry.localHeaderOffset + 28, true);
    bytes[start + 5] = bytes[start + 5]! ^ 1;
    expect(() => readPth(bytes)).toThrow(/state_dict\/data\/2 is corrupt \(CRC-32 mismatch\)/);
  });

  it('refuses a deflate entry that claims an impossible size (no huge allocation)', () => {
    const bytes = Uint8Array.from(zipSync({ 'a/data.pkl': [new Uint8Array(100), { level: 6 }] }));
    const zip = readZip(bytes);
    const entry = zip.entries.get('a/data.pkl')!;
    // central directory: uncompressed size field at +24 of the entry
    const cd = Buffer.from(bytes).lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    new DataView(bytes.buffer).setUint32(cd + 24, 0xfffffff0, true);
    expect(entry.method).toBe(8);
    expect(() => readZip(bytes).read('a/data.pkl')).toThrow(/impossible size/);
  });

  it('reads storages written on a big-endian machine (byteorder "big")', () => {
    const sizes: Record<string, number> = {
      float32: 4,
      float64: 8,
      int64: 8,
      int32: 4,
      float16: 2,
      bfloat16: 2,
    };
    // storage key → element size of the tensor that first uses it
    const archive = readZip(fixture('state_dict.pth'));
    const keyItem = new Map<string, number>();
    const keyOrder = [
      'scalar',
      'vec',
      'mat',
      'conv.weight',
      'block.0.attn.qkv.weight',
      'half',
      'bf16',
      'long',
      'int32',
      'uint8',
      'bool',
      'double',
      'empty',
      'expanded',
      'param',
    ];
    // torch numbers storages in order of first appearance; mat_t and mat_slice share storage 2
    keyOrder.forEach((name, i) => {
      keyItem.set(String(i), sizes[original.get(name)!.storedDtype] ?? 1);
    });
    const files = [...archive.entries.keys()].map((n): [string, Uint8Array] => {
      let d = Uint8Array.from(archive.read(n));
      const m = /data\/(\d+)$/.exec(n);
      if (m) {
        const size = keyItem.get(m[1]!)!;
        for (let i = 0; i < d.length; i += size) d.subarray(i, i + size).reverse();
      }
      if (n.endsWith('/byteorder')) d = new TextEncoder().encode('big');
      return [n, d];
    });
    if (!files.some(([n]) => n.endsWith('/byteorder')))
      files.push(['state_dict/byteorder', new TextEncoder().encode('big')]);
    const big = zipSync(Object.fromEntries(files.map(([n, d]) => [n, [d, { level: 0 }]])));
    sameTensors(original, readPth(big) as Map<string, HostTensor>);
  });
});
