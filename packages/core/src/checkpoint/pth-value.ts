import type { HostTensor } from './host-tensor.js';

/** Keys of dicts read from a pickle (other Python key types are rendered as their Python repr). */
export type PthKey = string | number;

/**
 * A value read from a `.pth` pickle: dict/OrderedDict → Map (keeps order), list/tuple → array,
 * tensor → HostTensor, int → number (bigint beyond 2^53), float, str, bytes → Uint8Array,
 * bool, None → null, and (only for classes named in `allowGlobals`) an inert `PthObject`.
 */
export type PthValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | HostTensor
  | PthObject
  | PthValue[]
  | Map<PthKey, PthValue>;

/**
 * An instance of a Python class the caller allowed by name (for example `argparse.Namespace` in
 * DINO training checkpoints): only its recorded constructor arguments and state, nothing executed.
 */
export class PthObject {
  readonly kind = 'pth-object';
  state: PthValue = null;
  constructor(
    /** `module.name` of the class. */
    readonly className: string,
    /** Arguments recorded by `REDUCE`/`NEWOBJ`. */
    readonly args: PthValue[],
  ) {}
}

/** True for a `HostTensor` (structural check: shape array, dtype string and a typed-array `data`). */
export function isHostTensor(value: unknown): value is HostTensor {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return false;
  const v = value as { shape?: unknown; dtype?: unknown; data?: unknown };
  return Array.isArray(v.shape) && typeof v.dtype === 'string' && ArrayBuffer.isView(v.data);
}
