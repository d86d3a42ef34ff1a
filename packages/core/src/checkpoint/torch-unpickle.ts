import { HpError } from '../errors.js';
import type { HostTensor, StoredDType } from './host-tensor.js';
import type { UnpickleHooks } from './pickle.js';
import { PthObject, type PthValue } from './pth-value.js';
import {
  decodeElements,
  gatherStrided,
  hostDTypeOf,
  isContiguous,
  numelOf,
  STORED_ITEM_SIZE,
} from './tensor-data.js';
import {
  ALLOWED,
  type GlobalKind,
  PTH_ALLOWED_GLOBALS,
  STORAGE_TYPES,
  TORCH_DTYPES,
} from './torch-globals.js';

/**
 * The torch side of unpickling: an allow-list of globals (containers, tensor rebuilds, storage
 * types, and numpy scalars read as data), persistent ids resolved to storages in the zip archive,
 * and tensors rebuilt as contiguous HostTensors. Nothing named in the pickle is ever executed.
 */

/** Inert stand-in for an allowed Python global. */
class Global {
  constructor(
    readonly fullName: string,
    readonly kind: GlobalKind,
    readonly stored?: StoredDType,
  ) {}
}

/** A storage named by a persistent id; its bytes are read from the archive on first use. */
class StorageRef {
  constructor(
    readonly key: string,
    readonly stored: StoredDType,
    readonly numel: number,
  ) {}
}

/** `numpy.dtype` read as data (its string and byte order), for numpy scalars. */
export class NumpyDType {
  byteOrder = '<';
  constructor(readonly str: string) {}
}

export interface TorchUnpickleContext {
  fn: string;
  /** Raw bytes of `<archive>/data/<key>`; throws `E_FORMAT` when missing. */
  storageBytes(key: string): Uint8Array;
  bigEndian: boolean;
  /** Extra class names the caller allows as inert `PthObject`s. */
  allowGlobals: ReadonlySet<string>;
  /** Element budget against hostile shapes (expanded views of tiny storages). */
  maxElements: number;
}

function isInt(v: unknown, min = 0): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min;
}

export function makeTorchHooks(ctx: TorchUnpickleContext): UnpickleHooks {
  const { fn } = ctx;
  let elementsSoFar = 0;
  const bad = (at: string, what: string, expected: string, got: string): never => {
    throw new HpError('E_FORMAT', `${fn}: ${what} at ${at}: expected ${expected}, got ${got}`);
  };

  const rebuildTensor = (args: unknown[], at: string): HostTensor => {
    const [storage, offset, size, stride] = args;
    if (!(storage instanceof StorageRef))
      return bad(at, 'tensor without a storage', 'a storage persistent id', typeof storage);
    if (!isInt(offset)) return bad(at, 'bad tensor storage offset', 'an integer >= 0', String(offset));
    if (!Array.isArray(size) || !size.every((d) => isInt(d))) {
      return bad(at, 'bad tensor size', 'a tuple of integers >= 0', JSON.stringify(size));
    }
    if (!Array.isArray(stride) || stride.length !== size.length || !stride.every((d) => isInt(d))) {
      return bad(at, 'bad tensor stride', `${size.length} integers >= 0`, JSON.stringify(stride));
    }
    const shape = size as number[];
    const strides = stride as number[];
    const numel = numelOf(shape);
    elementsSoFar += numel;
    if (numel > 2 ** 31 - 1 || elementsSoFar > ctx.maxElements) {
      return bad(
        at,
        'tensor is implausibly large for this file',
        `at most ${ctx.maxElements} elements in all`,
        `shape [${shape.join(', ')}]`,
      );
    }
    const itemSize = STORED_ITEM_SIZE[storage.stored];
    let span = 0; // elements from the offset to the last one addressed, inclusive
    if (numel > 0) {
      span = 1;
      for (let i = 0; i < shape.length; i++) span += (shape[i]! - 1) * strides[i]!;
    }
    const bytes = ctx.storageBytes(storage.key);
    const available = Math.min(storage.numel, Math.floor(bytes.length / itemSize));
    if (offset + span > available) {
      return bad(
        at,
        `storage ${storage.key} is shorter than its tensor [${shape.join(', ')}] (offset ${offset}, stride [${strides.join(', ')}])`,
        `at least ${offset + span} ${storage.stored} elements`,
        `${available} (storage numel ${storage.numel}, ${bytes.length} bytes)`,
      );
    }
    const range = bytes.subarray(offset * itemSize, (offset + span) * itemSize);
    let data = decodeElements(range, storage.stored, ctx.bigEndian);
    if (numel > 0 && !(isContiguous(shape, strides) && span === numel))
      data = gatherStrided(data, shape, strides);
    return { dtype: hostDTypeOf(storage.stored), storedDtype: storage.stored, shape: [...shape], data };
  };

  const numpyScalar = (args: unknown[], at: string): number | bigint | boolean => {
    const [dtype, raw] = args;
    if (!(dtype instanceof NumpyDType) || !(raw instanceof Uint8Array)) {
      return bad(at, 'bad numpy scalar', 'a numpy dtype and bytes', `${typeof dtype}, ${typeof raw}`);
    }
    const m = /^([<>|=]?)([fiub])(\d)$/.exec(dtype.str);
    if (m === null)
      return bad(at, 'unsupported numpy scalar dtype', 'f2/f4/f8, i1-i8, u1-u8 or b1', dtype.str);
    const kind = m[2]!;
    const width = Number(m[3]);
    if (raw.length !== width)
      return bad(at, 'numpy scalar has the wrong byte count', `${width}`, `${raw.length}`);
    const little = (m[1] || dtype.byteOrder) !== '>';
    const v = new DataView(raw.buffer, raw.byteOffset, raw.length);
    if (kind === 'b' && width === 1) return raw[0] !== 0;
    if (kind === 'f' && width === 8) return v.getFloat64(0, little);
    if (kind === 'f' && width === 4) return v.getFloat32(0, little);
    if (kind === 'f' && width === 2) {
      const h = v.getUint16(0, little);
      return decodeElements(new Uint8Array([h & 0xff, h >>> 8]), 'float16')[0] as number;
    }
    if (kind === 'i' || kind === 'u') {
      const signed = kind === 'i';
      if (width === 1) return signed ? v.getInt8(0) : v.getUint8(0);
      if (width === 2) return signed ? v.getInt16(0, little) : v.getUint16(0, little);
      if (width === 4) return signed ? v.getInt32(0, little) : v.getUint32(0, little);
      if (width === 8) {
        const b = signed ? v.getBigInt64(0, little) : v.getBigUint64(0, little);
        return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
      }
    }
    return bad(at, 'unsupported numpy scalar dtype', 'f2/f4/f8, i1-i8, u1-u8 or b1', dtype.str);
  };

  return {
    findClass(module, name, at) {
      const fullName = `${module}.${name}`;
      const kind = ALLOWED[fullName];
      if (kind !== undefined) return new Global(fullName, kind);
      if (module === 'torch' && TORCH_DTYPES.has(name)) return fullName;
      if (module === 'torch' && name.endsWith('Storage')) {
        const stored = STORAGE_TYPES[name];
        if (stored === undefined) {
          return bad(
            at,
            `unsupported tensor storage torch.${name}`,
            Object.keys(STORAGE_TYPES).join(', '),
            name,
          );
        }
        return new Global(fullName, 'storage-type', stored);
      }
      if (ctx.allowGlobals.has(fullName)) return new Global(fullName, 'allowed-object');
      throw new HpError(
        'E_UNSAFE',
        `${fn}: refused pickle global ${fullName} at ${at}: expected one of the tensor and container globals (${PTH_ALLOWED_GLOBALS.join(', ')}), got ${fullName}. hpseg never executes pickled code; a checkpoint that names other globals is either hostile or holds Python objects (pass their class names in allowGlobals to read them as inert data)`,
        { details: { global: fullName } },
      );
    },

    persistentLoad(pid, at) {
      if (!Array.isArray(pid) || pid.length < 5 || pid[0] !== 'storage') {
        return bad(
          at,
          'unsupported persistent id',
          "a tuple ('storage', type, key, location, numel)",
          JSON.stringify(pid, (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
        );
      }
      const [, type, key, , numel] = pid as unknown[];
      if (!(type instanceof Global) || type.kind !== 'storage-type' || type.stored === undefined) {
        return bad(at, 'persistent id without a storage type', 'torch.<Type>Storage', String(type));
      }
      if (typeof key !== 'string' || !/^[\w.-]+$/.test(key))
        return bad(at, 'bad storage key', 'a plain name', String(key));
      if (!isInt(numel)) return bad(at, 'bad storage size', 'an integer >= 0', String(numel));
      return new StorageRef(key, type.stored, numel);
    },

    call(callable, args, at) {
      if (!(callable instanceof Global))
        return bad(at, 'call of a non-class value', 'an allowed global', typeof callable);
      switch (callable.kind) {
        case 'ordered-dict': {
          const m = new Map<unknown, unknown>();
          const pairs = args[0];
          if (Array.isArray(pairs)) {
            for (const p of pairs) {
              if (!Array.isArray(p) || p.length !== 2)
                return bad(at, 'bad OrderedDict item', 'a (key, value) pair', typeof p);
              m.set(p[0], p[1]);
            }
          }
          return m;
        }
        case 'rebuild-tensor':
        case 'rebuild-tensor-v2':
          return rebuildTensor(args, at);
        case 'rebuild-parameter':
          return args[0];
        case 'codecs-encode': {
          const [s, encoding] = args;
          if (typeof s !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) {
            return bad(
              at,
              'unsupported _codecs.encode call',
              "(str, 'latin1')",
              `${typeof s}, ${String(encoding)}`,
            );
          }
          const out = new Uint8Array(s.length);
          for (let i = 0; i < s.length; i++) {
            const c = s.charCodeAt(i);
            if (c > 255) return bad(at, 'bad latin1 bytes', 'code points below 256', `${c}`);
            out[i] = c;
          }
          return out;
        }
        case 'numpy-scalar':
          return numpyScalar(args, at);
        case 'numpy-dtype':
          if (typeof args[0] !== 'string')
            return bad(at, 'bad numpy.dtype', 'a dtype string', typeof args[0]);
          return new NumpyDType(args[0]);
        case 'torch-size':
        case 'set': {
          const items = args[0] ?? [];
          if (!Array.isArray(items))
            return bad(at, `bad ${callable.fullName} argument`, 'a list or tuple', typeof items);
          return [...items];
        }
        case 'torch-device': {
          const [type, index] = args;
          if (typeof type !== 'string' || (index !== undefined && index !== null && !isInt(index))) {
            return bad(at, 'bad torch.device arguments', '(type, index?)', `${typeof type}, ${typeof index}`);
          }
          return typeof index === 'number' ? `${type}:${index}` : type;
        }
        case 'empty-bytes':
          if (args.length > 0)
            return bad(at, `unsupported ${callable.fullName} call`, 'no arguments', `${args.length}`);
          return new Uint8Array(0);
        case 'allowed-object':
          return new PthObject(callable.fullName, args as PthValue[]);
        case 'storage-type':
          return bad(
            at,
            `direct construction of ${callable.fullName}`,
            'storages only through persistent ids',
            'a call',
          );
      }
    },

    build(target, state, at) {
      if (target instanceof Map) return target; // OrderedDict state holds `_metadata` (module versions): not needed
      if (target instanceof NumpyDType) {
        if (Array.isArray(state) && typeof state[1] === 'string') target.byteOrder = state[1];
        return target;
      }
      if (target instanceof PthObject) {
        target.state = state as PthValue;
        return target;
      }
      return bad(
        at,
        'BUILD on an object that takes no state',
        'a dict, numpy dtype or allowed object',
        typeof target,
      );
    },
  };
}

/** Internal stand-ins must not escape into the result. */
export function describeInternal(value: unknown): string | undefined {
  if (value instanceof Global) return `the class ${value.fullName} as a value`;
  if (value instanceof StorageRef) return `a bare storage (${value.key})`;
  if (value instanceof NumpyDType) return `a bare numpy dtype (${value.str})`;
  return undefined;
}
