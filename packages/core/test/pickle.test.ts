import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { type HostTensor, type PthValue, readPth, readZip, toStateDict } from '../src/index.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const fixture = (name: string): Uint8Array => readFileSync(join(FIXTURES, name));

/** Wraps a hand-made pickle in a torch-style stored zip (valid CRCs). */
function pth(pickle: number[] | Uint8Array, storages: Record<string, Uint8Array> = {}): Uint8Array {
  const files: Record<string, [Uint8Array, { level: 0 }]> = {
    'archive/data.pkl': [Uint8Array.from(pickle), { level: 0 }],
  };
  for (const [k, v] of Object.entries(storages)) files[`archive/data/${k}`] = [v, { level: 0 }];
  return zipSync(files);
}
const ascii = (s: string): number[] => Array.from(new TextEncoder().encode(s));

function errorOf(f: () => unknown): { code: string; message: string } {
  try {
    f();
  } catch (error) {
    const e = error as { name: string; code: string; message: string };
    expect(e.name, String(error)).toBe('HpError');
    return e;
  }
  throw new Error('expected an HpError, got success');
}

const EXPECTED_VALUES = new Map<string | number, PthValue>([
  [
    'ints',
    [
      0,
      1,
      -1,
      255,
      256,
      65535,
      65536,
      -(2 ** 31),
      2 ** 31,
      2n ** 53n,
      2n ** 53n + 1n,
      -(2n ** 63n),
      2n ** 64n,
      10n ** 30n,
    ],
  ],
  ['floats', [0, -1.5, 1e-300, Infinity]],
  ['text', 'héllo ✓'],
  ['bytes', Uint8Array.of(0, 255, 0x61, 0x62)],
  ['tuple', [1, [2, 3], [], ['x']]],
  [
    'nested',
    [
      [1, [2, [3]]],
      new Map<string, PthValue>([
        ['a', null],
        ['b', true],
        ['c', false],
      ]),
    ],
  ],
  [3, 'int key'],
  ['size', [2, 3]],
  ['set', [7]],
  ['device', 'cuda:1'],
  ['dtype', 'torch.float16'],
]);

describe('pickle VM: Python values from torch.save', () => {
  it.each(['values.pth', 'values_p4.pth'])(
    '%s: ints (bigint beyond 2^53), floats, unicode, bytes, tuples',
    (name) => {
      expect(readPth(fixture(name))).toEqual(EXPECTED_VALUES);
    },
  );

  it('protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL) gives the same tensors as protocol 2', () => {
    const p2 = toStateDict(readPth(fixture('state_dict.pth')));
    const p4 = toStateDict(readPth(fixture('state_dict_p4.pth')));
    expect([...p4.keys()]).toEqual([...p2.keys()]);
    for (const [k, t] of p2) expect(p4.get(k)!.data, k).toEqual(t.data);
  });
});

describe('pickle VM: hand-made hostile pickles', () => {
  it('gives E_FORMAT for a byte that is no pickle opcode, naming it and its offset', () => {
    const e = errorOf(() => readPth(pth([0x80, 0x02, 0x7d, 0xff, 0x2e])));
    expect(e.code).toBe('E_FORMAT');
    expect(e.message).toContain('not a pickle opcode at byte 3 of archive/data.pkl');
    expect(e.message).toContain('0xff');
  });

  it.each([
    ['EXT1', [0x80, 0x02, 0x82, 0x01, 0x2e]],
    ['OBJ', [0x80, 0x02, 0x28, 0x6f, 0x2e]],
    ['NEXT_BUFFER', [0x80, 0x05, 0x97, 0x2e]],
    ['STRING', [0x80, 0x02, ...ascii("S'a'\n"), 0x2e]],
  ])('refuses %s (E_UNSAFE)', (name, bytes) => {
    const e = errorOf(() => readPth(pth(bytes)));
    expect(e.code).toBe('E_UNSAFE');
    expect(e.message).toContain(`refused pickle opcode ${name}`);
  });

  it.each([
    ['builtins.eval', [0x80, 0x02, ...ascii('cbuiltins\neval\n'), 0x2e]],
    [
      'subprocess.Popen',
      [0x80, 0x04, 0x8c, 10, ...ascii('subprocess'), 0x8c, 5, ...ascii('Popen'), 0x93, 0x2e],
    ],
    [
      'numpy.core.multiarray._reconstruct',
      [0x80, 0x02, ...ascii('cnumpy.core.multiarray\n_reconstruct\n'), 0x2e],
    ],
    ['torch.load', [0x80, 0x02, ...ascii('ctorch\nload\n'), 0x2e]],
  ])('refuses the global %s (E_UNSAFE) before any call', (name, bytes) => {
    const e = errorOf(() => readPth(pth(bytes)));
    expect(e.code).toBe('E_UNSAFE');
    expect(e.message).toContain(`refused pickle global ${name}`);
  });

  it.each([
    ['stack underflow', [0x80, 0x02, 0x30, 0x2e], 'stack underflow'],
    ['POP_MARK without MARK', [0x80, 0x02, 0x31, 0x2e], 'no MARK'],
    ['memo miss', [0x80, 0x02, 0x68, 0x07, 0x2e], 'memo miss'],
    ['missing STOP', [0x80, 0x02, 0x4e], 'without STOP'],
    ['string past the end', [0x80, 0x02, 0x58, 0xff, 0xff, 0xff, 0x7f, 0x61], 'truncated'],
    ['invalid UTF-8', [0x80, 0x02, 0x8c, 0x01, 0xff, 0x2e], 'not valid UTF-8'],
    ['SETITEM on a list', [0x80, 0x02, 0x5d, 0x4e, 0x4e, 0x73, 0x2e], 'not a dict'],
    ['REDUCE of a non-class', [0x80, 0x02, 0x4e, 0x29, 0x52, 0x2e], 'non-class'],
    ['odd SETITEMS', [0x80, 0x02, 0x7d, 0x28, 0x4e, 0x75, 0x2e], 'odd item count'],
    ['protocol 6', [0x80, 0x06, 0x4e, 0x2e], 'unsupported pickle protocol'],
  ])('gives E_FORMAT for %s', (_name, bytes, fragment) => {
    const e = errorOf(() => readPth(pth(bytes)));
    expect(e.code).toBe('E_FORMAT');
    expect(e.message).toContain(fragment);
  });

  it('refuses a storage persistent id whose data entry is missing', () => {
    // _rebuild_tensor_v2(pid('storage', FloatStorage, '0', 'cpu', 2), 0, (2,), (1,), False, OrderedDict())
    const pickle = [
      0x80,
      0x02,
      ...ascii('ctorch._utils\n_rebuild_tensor_v2\n'),
      0x28,
      0x28,
      0x8c,
      7,
      ...ascii('storage'),
      ...ascii('ctorch\nFloatStorage\n'),
      0x8c,
      1,
      ...ascii('0'),
      0x8c,
      3,
      ...ascii('cpu'),
      0x4b,
      2,
      0x74,
      0x51,
      0x4b,
      0,
      0x4b,
      2,
      0x85,
      0x4b,
      1,
      0x85,
      0x89,
      ...ascii('ccollections\nOrderedDict\n'),
      0x29,
      0x52,
      0x74,
      0x52,
      0x2e,
    ];
    const ok = readPth(pth(pickle, { '0': new Uint8Array(Float32Array.of(1.5, -2).buffer) })) as HostTensor;
    expect(Array.from(ok.data as Float32Array)).toEqual([1.5, -2]);
    const e = errorOf(() => readPth(pth(pickle)));
    expect(e.code).toBe('E_FORMAT');
    expect(e.message).toContain('missing tensor storage: expected an entry archive/data/0');
  });

  it('keeps a self-referencing dict without looping (toStateDict terminates)', () => {
    // d = {}; d['self'] = d
    const v = readPth(
      pth([0x80, 0x02, 0x7d, 0x71, 0x00, 0x8c, 4, ...ascii('self'), 0x68, 0x00, 0x73, 0x2e]),
    ) as Map<string, PthValue>;
    expect(v.get('self')).toBe(v);
    expect(toStateDict(v).size).toBe(0);
  });

  it('refuses absurd nesting depth', () => {
    const deep = [0x80, 0x02, ...new Array(2000).fill(0x5d), ...new Array(1999).fill(0x61), 0x2e];
    const e = errorOf(() => readPth(pth(deep)));
    expect(e.code).toBe('E_FORMAT');
    expect(e.message).toContain('nests too deeply');
  });

  it('random mutations of real pickles end in a value or an HpError, quickly', () => {
    let seed = 7;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    const t0 = performance.now();
    for (const name of ['state_dict.pth', 'hp_ckpt.pth', 'values_p4.pth']) {
      const zip = readZip(fixture(name));
      const files = [...zip.entries.keys()].map((n): [string, Uint8Array] => [n, zip.read(n)]);
      const pklIndex = files.findIndex(([n]) => n.endsWith('data.pkl'));
      for (let trial = 0; trial < 300; trial++) {
        const pkl = Uint8Array.from(files[pklIndex]![1]);
        const flips = 1 + Math.floor(rand() * 4);
        for (let k = 0; k < flips; k++) pkl[Math.floor(rand() * pkl.length)] = Math.floor(rand() * 256);
        const cut = rand() < 0.2 ? Math.floor(rand() * pkl.length) : pkl.length;
        const mutated = files.map(([n, d], i): [string, Uint8Array] => [
          n,
          i === pklIndex ? pkl.subarray(0, cut) : d,
        ]);
        const bytes = zipSync(Object.fromEntries(mutated.map(([n, d]) => [n, [d, { level: 0 }]])));
        try {
          readPth(bytes);
        } catch (error) {
          expect((error as { name: string }).name, `${name} trial ${trial}: ${String(error)}`).toBe(
            'HpError',
          );
        }
      }
    }
    expect(performance.now() - t0).toBeLessThan(20_000);
  });
});
