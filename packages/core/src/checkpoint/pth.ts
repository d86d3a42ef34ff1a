import { HpError } from '../errors.js';
import { readFileChecked } from '../fs.js';
import { unpickle } from './pickle.js';
import { isHostTensor, type PthKey, PthObject, type PthValue } from './pth-value.js';
import { describeInternal, makeTorchHooks } from './torch-unpickle.js';
import { readZip } from './zip.js';

export interface ReadPthOptions {
  /**
   * Python classes (as `module.Name`) to read as inert `PthObject`s instead of refusing them, e.g.
   * `['argparse.Namespace']` for the `args` entry of DINO training checkpoints. Nothing is executed.
   */
  allowGlobals?: readonly string[];
}

const RESAVE_HINT =
  'Re-save it with torch >= 1.6: torch.save(torch.load("old.pth"), "new.pth", _use_new_zipfile_serialization=True)';

/** Magic number of the legacy format, pickled as LONG1 (protocol 2): 0x1950a86a20f9469cfc6c. */
const LEGACY_MAGIC = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

function startsWith(bytes: Uint8Array, prefix: readonly number[], at = 0): boolean {
  if (bytes.length < at + prefix.length) return false;
  return prefix.every((b, i) => bytes[at + i] === b);
}

function hexHead(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ') || '(empty)';
}

/** Refuses everything that is not a torch >= 1.6 zip archive, naming what it is instead. */
function checkMagic(bytes: Uint8Array, fn: string): void {
  if (startsWith(bytes, [0x50, 0x4b, 0x03, 0x04]) || startsWith(bytes, [0x50, 0x4b, 0x05, 0x06])) return;
  const tar = startsWith(bytes, [0x75, 0x73, 0x74, 0x61, 0x72], 257); // "ustar"
  if (startsWith(bytes, LEGACY_MAGIC) || tar) {
    throw new HpError(
      'E_FORMAT',
      `${fn}: legacy PyTorch checkpoint format (${tar ? 'tar' : 'pickle'}, written by torch < 1.6 or with _use_new_zipfile_serialization=False): expected the zip format of torch >= 1.6, got the legacy format. ${RESAVE_HINT}`,
      { hint: RESAVE_HINT },
    );
  }
  throw new HpError(
    'E_FORMAT',
    `${fn}: not a PyTorch checkpoint: expected a zip archive (magic 50 4b 03 04), got ${hexHead(bytes)}`,
  );
}

/** Python-style rendering of dict keys that are not str or int. */
function keyOf(key: unknown): PthKey {
  if (typeof key === 'string' || typeof key === 'number') return key;
  if (typeof key === 'bigint') return String(key);
  if (key === null) return 'None';
  if (typeof key === 'boolean') return key ? 'True' : 'False';
  if (Array.isArray(key))
    return `(${key.map((k) => String(keyOf(k))).join(', ')}${key.length === 1 ? ',' : ''})`;
  return String(key);
}

/** Converts VM output to `PthValue`: dict keys normalised, internal stand-ins refused; cycles kept. */
function finalize(root: unknown, fn: string): PthValue {
  const done = new Map<unknown, PthValue>();
  const visit = (v: unknown, depth: number): PthValue => {
    if (v === null || typeof v !== 'object') return v as PthValue;
    if (v instanceof Uint8Array || isHostTensor(v)) return v as PthValue;
    const seen = done.get(v);
    if (seen !== undefined) return seen;
    if (depth > 500)
      throw new HpError('E_FORMAT', `${fn}: pickle nests too deeply: expected at most 500 levels, got more`);
    const internal = describeInternal(v);
    if (internal !== undefined) {
      throw new HpError(
        'E_FORMAT',
        `${fn}: unsupported value in checkpoint: expected tensors and containers, got ${internal}`,
      );
    }
    if (Array.isArray(v)) {
      const out: PthValue[] = [];
      done.set(v, out);
      for (const item of v) out.push(visit(item, depth + 1));
      return out;
    }
    if (v instanceof Map) {
      const out = new Map<PthKey, PthValue>();
      done.set(v, out);
      for (const [k, item] of v) out.set(keyOf(k), visit(item, depth + 1));
      return out;
    }
    if (v instanceof PthObject) {
      done.set(v, v);
      v.state = visit(v.state, depth + 1);
      v.args.forEach((a, i) => {
        v.args[i] = visit(a, depth + 1);
      });
      return v;
    }
    throw new HpError(
      'E_FORMAT',
      `${fn}: unsupported value in checkpoint: expected tensors and containers, got ${typeof v}`,
    );
  };
  return visit(root, 0);
}

/**
 * Reads a PyTorch >= 1.6 checkpoint (`torch.save` zip: `<archive>/data.pkl` + `<archive>/data/<key>`)
 * from memory. Tensors come back as contiguous HostTensors (float16/bfloat16 widened to float32).
 * Refuses (`E_UNSAFE`) any pickle global outside the tensor/container allow-list and any opcode
 * outside the data-only subset; broken files give `E_FORMAT`.
 */
export function readPth(bytes: Uint8Array, options: ReadPthOptions = {}): PthValue {
  const fn = 'readPth';
  checkMagic(bytes, fn);
  const zip = readZip(bytes, fn);
  const pkl = [...zip.entries.keys()].find((name) => name === 'data.pkl' || name.endsWith('/data.pkl'));
  if (pkl === undefined) {
    throw new HpError(
      'E_FORMAT',
      `${fn}: zip archive is not a torch.save checkpoint: expected an entry <archive>/data.pkl, got ${[...zip.entries.keys()].slice(0, 5).join(', ') || 'no entries'}`,
    );
  }
  const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);
  const byteorderEntry = zip.entries.get(`${prefix}byteorder`);
  const byteorder = byteorderEntry
    ? new TextDecoder().decode(zip.read(`${prefix}byteorder`)).trim()
    : 'little';
  if (byteorder !== 'little' && byteorder !== 'big') {
    throw new HpError(
      'E_FORMAT',
      `${fn}: bad ${prefix}byteorder: expected "little" or "big", got ${JSON.stringify(byteorder)}`,
    );
  }
  const storages = new Map<string, Uint8Array>();
  const hooks = makeTorchHooks({
    fn,
    bigEndian: byteorder === 'big',
    allowGlobals: new Set(options.allowGlobals ?? []),
    maxElements: Math.max(4 * bytes.length, 2 ** 26),
    storageBytes(key) {
      let data = storages.get(key);
      if (data === undefined) {
        const name = `${prefix}data/${key}`;
        if (!zip.entries.has(name)) {
          throw new HpError('E_FORMAT', `${fn}: missing tensor storage: expected an entry ${name}, got none`);
        }
        data = zip.read(name);
        storages.set(key, data);
      }
      return data;
    },
  });
  return finalize(unpickle(zip.read(pkl), hooks, fn, pkl), fn);
}

/** `readPth` of a file on disk. Missing file → `E_NOT_FOUND`, unreadable → `E_IO`. */
export async function loadPthFile(path: string, options: ReadPthOptions = {}): Promise<PthValue> {
  const bytes = await readFileChecked('loadPthFile', path);
  try {
    return readPth(bytes, options);
  } catch (error) {
    if ((error as { name?: string }).name === 'HpError') {
      const e = error as HpError;
      throw new HpError(e.code, `${e.message} (file ${path})`, {
        cause: e,
        details: { ...e.details, path },
        hint: e.hint,
      });
    }
    throw error;
  }
}
