import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import {
  type HostTensor,
  isHostTensor,
  loadPthFile,
  PthObject,
  type PthValue,
  readPth,
  toStateDict,
} from '../src/index.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const fixture = (name: string): Uint8Array => readFileSync(join(FIXTURES, name));

interface Expected {
  shape: number[];
  dtype: string;
  values: (number | string)[];
}
const EXPECTED = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as {
  state_dict: Record<string, Expected>;
  hp_ckpt: Record<string, Record<string, Expected> | number | string>;
  numpy_scalar: Record<string, number | boolean>;
  dino_train_teacher: Record<string, Expected>;
};

/** Exact comparison: float32 values in JSON are the exact doubles of the stored floats. */
function expectTensor(name: string, t: PthValue | undefined, e: Expected): void {
  expect(isHostTensor(t), name).toBe(true);
  const tensor = t as HostTensor;
  expect(tensor.shape, name).toEqual(e.shape);
  expect(tensor.storedDtype, name).toBe(e.dtype);
  const got = Array.from(tensor.data as ArrayLike<number | bigint>, (v) =>
    typeof v === 'bigint' ? String(v) : v,
  );
  expect(got, name).toEqual(e.values);
}

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<{ code: string; message: string }> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (error) {
    const e = error as { name: string; code: string; message: string };
    expect(e.name).toBe('HpError');
    return { code: e.code, message: e.message };
  }
  throw new Error('expected an HpError, got success');
}

describe('readPth: values of torch.save fixtures', () => {
  it('reads an OrderedDict state dict in key order with every dtype, view and offset', () => {
    const value = readPth(fixture('state_dict.pth'));
    expect(value).toBeInstanceOf(Map);
    const map = value as Map<string, PthValue>;
    expect([...map.keys()]).toEqual(Object.keys(EXPECTED.state_dict));
    for (const [name, e] of Object.entries(EXPECTED.state_dict)) expectTensor(name, map.get(name), e);
  });

  it('widens half types to float32 and keeps int64 as BigInt64Array', () => {
    const map = readPth(fixture('state_dict.pth')) as Map<string, HostTensor>;
    expect(map.get('half')!.dtype).toBe('float32');
    expect(map.get('half')!.data).toBeInstanceOf(Float32Array);
    expect(map.get('bf16')!.dtype).toBe('float32');
    expect(map.get('long')!.data).toBeInstanceOf(BigInt64Array);
    expect(map.get('long')!.data[2]).toBe(2n ** 40n);
    expect(map.get('bool')!.dtype).toBe('bool');
  });

  it('copies views: a transposed view does not alias the base tensor', () => {
    const map = readPth(fixture('state_dict.pth')) as Map<string, HostTensor>;
    const mat = map.get('mat')!;
    const t = map.get('mat_t')!;
    expect(t.shape).toEqual([6, 4]);
    expect(t.data[1]).toBe(mat.data[6]); // t[0,1] = mat[1,0]
    expect(t.data.buffer).not.toBe(mat.data.buffer);
  });

  it('reads an HP-style nested checkpoint with scalars and None', () => {
    const ckpt = readPth(fixture('hp_ckpt.pth')) as Map<string, PthValue>;
    expect(ckpt.get('epoch')).toBe(1);
    expect(ckpt.get('iter')).toBe(120);
    expect(ckpt.get('best')).toBe(61.25);
    expect(ckpt.get('name')).toBe('hp');
    expect(ckpt.get('optimizer')).toBeNull();
    for (const sub of ['net_model_state_dict', 'linear_model_state_dict', 'cluster_model_state_dict']) {
      const sd = toStateDict(ckpt, { prefix: sub });
      const exp = EXPECTED.hp_ckpt[sub] as Record<string, Expected>;
      expect([...sd.keys()]).toEqual(Object.keys(exp));
      for (const [name, e] of Object.entries(exp)) expectTensor(`${sub}.${name}`, sd.get(name), e);
    }
  });

  it('reads numpy scalars as plain numbers and booleans', () => {
    const m = readPth(fixture('numpy_scalar.pth')) as Map<string, PthValue>;
    expect(Object.fromEntries(m)).toEqual(EXPECTED.numpy_scalar);
  });

  it('loadPthFile reads from disk and names a missing file', async () => {
    const v = await loadPthFile(join(FIXTURES, 'hp_ckpt.pth'));
    expect((v as Map<string, PthValue>).get('epoch')).toBe(1);
    const e = await codeOf(loadPthFile(join(FIXTURES, 'nope.pth')));
    expect(e.code).toBe('E_NOT_FOUND');
    expect(e.message).toContain('nope.pth');
  });
});

describe('toStateDict', () => {
  it('flattens nested dicts with dotted keys and leaves out non-tensors', () => {
    const ckpt = readPth(fixture('hp_ckpt.pth'));
    const sd = toStateDict(ckpt);
    expect(sd.has('net_model_state_dict.cluster1.0.weight')).toBe(true);
    expect(sd.has('linear_model_state_dict.bias')).toBe(true);
    expect(sd.has('epoch')).toBe(false);
    expect(sd.size).toBe(8);
  });

  it('names the available keys when the prefix is missing', async () => {
    const ckpt = readPth(fixture('hp_ckpt.pth'));
    const e = await codeOf(() => toStateDict(ckpt, { prefix: 'teacher' }));
    expect(e.code).toBe('E_CHECKPOINT');
    expect(e.message).toContain('net_model_state_dict');
  });
});

describe('readPth: hostile and broken files', () => {
  it('refuses os.system via GLOBAL + REDUCE without running it', async () => {
    const e = await codeOf(() => readPth(fixture('malicious.pth')));
    expect(e.code).toBe('E_UNSAFE');
    expect(e.message).toMatch(/refused pickle global (os|posix)\.system/);
  });

  it('refuses an opcode outside the subset (INST), naming it and its offset', async () => {
    const e = await codeOf(() => readPth(fixture('unknown_opcode.pth')));
    expect(e.code).toBe('E_UNSAFE');
    expect(e.message).toContain('INST (0x69) at byte 3 of archive/data.pkl');
  });

  it('gives E_FORMAT for a byte that is no pickle opcode', async () => {
    const bytes = fixture('unknown_opcode.pth');
    const patched = Uint8Array.from(bytes);
    // replace the INST opcode (0x69 after "\x80\x02(") by 0xff and fix nothing else: the CRC then fails first
    const at = Buffer.from(patched).indexOf(Buffer.from([0x80, 0x02, 0x28, 0x69]));
    patched[at + 3] = 0xff;
    const crc = await codeOf(() => readPth(patched));
    expect(crc.code).toBe('E_FORMAT');
    expect(crc.message).toContain('CRC-32 mismatch');
  });

  it('refuses a tensor whose storage is shorter than its shape', async () => {
    const e = await codeOf(() => readPth(fixture('short_storage.pth')));
    expect(e.code).toBe('E_FORMAT');
    expect(e.message).toContain('shorter than its tensor [2, 3]');
  });

  it('explains how to re-save a legacy (torch < 1.6) checkpoint', async () => {
    const e = await codeOf(() => readPth(fixture('legacy.pth')));
    expect(e.code).toBe('E_FORMAT');
    expect(e.message).toContain('legacy PyTorch checkpoint format');
    expect(e.message).toContain('_use_new_zipfile_serialization=True');
  });

  it('recognises the legacy tar format (torch < 0.4) by its ustar header', async () => {
    const tar = new Uint8Array(1024);
    tar.set(new TextEncoder().encode('sys_info'), 0);
    tar.set(new TextEncoder().encode('ustar'), 257);
    const e = await codeOf(() => readPth(tar));
    expect(e.code).toBe('E_FORMAT');
    expect(e.message).toContain('legacy PyTorch checkpoint format (tar');
  });

  it('refuses wrong magic', async () => {
    const e = await codeOf(() => readPth(new TextEncoder().encode('hello, not a checkpoint')));
    expect(e.code).toBe('E_FORMAT');
    expect(e.message).toContain('expected a zip archive');
  });

  it('gives E_FORMAT (no crash, no hang) for every truncation of a real checkpoint', async () => {
    const bytes = fixture('hp_ckpt.pth');
    for (let len = 0; len < bytes.length; len += 7) {
      const e = await codeOf(() => readPth(bytes.subarray(0, len)));
      expect(e.code, `length ${len}`).toBe('E_FORMAT');
    }
  });

  it('survives random byte flips with an HpError or a value, never another error', () => {
    const bytes = fixture('state_dict.pth');
    let seed = 1;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    for (let trial = 0; trial < 300; trial++) {
      const copy = Uint8Array.from(bytes);
      for (let k = 0; k < 3; k++) copy[Math.floor(rand() * copy.length)] = Math.floor(rand() * 256);
      try {
        readPth(copy);
      } catch (error) {
        expect((error as { name: string }).name, String(error)).toBe('HpError');
      }
    }
  });
});

describe('readPth: a DINO training checkpoint (main_dino.py layout)', () => {
  it('refuses the argparse.Namespace args by default, naming the allowGlobals escape', async () => {
    const e = await codeOf(() => readPth(fixture('dino_train.pth')));
    expect(e.code).toBe('E_UNSAFE');
    expect(e.message).toContain('refused pickle global argparse.Namespace');
    expect(e.message).toContain('allowGlobals');
  });

  it('reads it with allowGlobals: teacher tensors, optimizer state with int keys, args as data', () => {
    const ckpt = readPth(fixture('dino_train.pth'), { allowGlobals: ['argparse.Namespace'] }) as Map<
      string,
      PthValue
    >;
    const teacher = toStateDict(ckpt, { prefix: 'teacher' });
    expect([...teacher.keys()]).toEqual(Object.keys(EXPECTED.dino_train_teacher));
    for (const [name, e] of Object.entries(EXPECTED.dino_train_teacher))
      expectTensor(name, teacher.get(name), e);
    const optimizer = ckpt.get('optimizer') as Map<string, PthValue>;
    const state = optimizer.get('state') as Map<number, Map<string, PthValue>>;
    expect([...state.keys()]).toEqual([0, 1]);
    expect(isHostTensor(state.get(0)!.get('exp_avg'))).toBe(true);
    const args = ckpt.get('args') as PthObject;
    expect(args.className).toBe('argparse.Namespace');
    expect(args.state).toEqual(
      new Map<string, PthValue>([
        ['arch', 'vit_small'],
        ['patch_size', 8],
        ['lr', 0.0005],
      ]),
    );
  });
});

describe('readPth: allowGlobals', () => {
  it('reads allowed classes as inert PthObjects', () => {
    // protocol 2: argparse.Namespace() with state {'lr': 0.5}, as in DINO training checkpoints
    const pkl = Uint8Array.from([
      0x80,
      0x02,
      0x63,
      ...new TextEncoder().encode('argparse\nNamespace\n'),
      0x29,
      0x81,
      0x7d,
      0x58,
      2,
      0,
      0,
      0,
      0x6c,
      0x72,
      0x47,
      0x3f,
      0xe0,
      0,
      0,
      0,
      0,
      0,
      0,
      0x73,
      0x62,
      0x2e,
    ]);
    const zip = makeStoredZip([['archive/data.pkl', pkl]]);
    expect(() => readPth(zip)).toThrow(/refused pickle global argparse.Namespace/);
    const v = readPth(zip, { allowGlobals: ['argparse.Namespace'] });
    expect(v).toBeInstanceOf(PthObject);
    expect((v as PthObject).className).toBe('argparse.Namespace');
    expect((v as PthObject).state).toEqual(new Map([['lr', 0.5]]));
  });
});

/** A minimal stored zip (what torch writes), for hand-made pickles. */
function makeStoredZip(files: [string, Uint8Array][]): Uint8Array {
  return zipSync(Object.fromEntries(files.map(([n, d]) => [n, [d, { level: 0 }]])));
}
