import { HpError } from '../errors.js';
import type { HostTensor, StateDict } from './host-tensor.js';
import { isHostTensor, type PthValue } from './pth-value.js';

export interface ToStateDictOptions {
  /** Take the sub-dict at this key first (dots walk nested dicts), e.g. `'net_model_state_dict'` or `'teacher'`. */
  prefix?: string;
}

/**
 * Flattens nested dicts of tensors into a `StateDict` with dotted keys (`{a: {b: t}}` → `a.b`).
 * Only tensors are collected: other leaves (numbers such as `epoch`, None, strings, lists) are
 * metadata and are left out.
 */
export function toStateDict(value: PthValue, options: ToStateDictOptions = {}): StateDict {
  const fn = 'toStateDict';
  let root: PthValue = value;
  if (options.prefix !== undefined && options.prefix !== '') {
    for (const part of options.prefix.split('.')) {
      if (!(root instanceof Map)) {
        throw new HpError(
          'E_FORMAT',
          `${fn}: cannot take ${JSON.stringify(part)} of a non-dict: expected a dict, got ${typeof root}`,
        );
      }
      const next = root.get(part);
      if (next === undefined) {
        const keys = [...root.keys()].slice(0, 12).map(String);
        throw new HpError(
          'E_CHECKPOINT',
          `${fn}: checkpoint has no entry ${JSON.stringify(options.prefix)}: expected one of its keys, got ${keys.join(', ') || 'an empty dict'}`,
          { details: { prefix: options.prefix, keys } },
        );
      }
      root = next;
    }
  }
  if (!(root instanceof Map)) {
    throw new HpError(
      'E_FORMAT',
      `${fn}: not a dict of tensors: expected a dict, got ${isHostTensor(root) ? 'a tensor' : typeof root}`,
    );
  }
  const out: StateDict = new Map<string, HostTensor>();
  const seen = new Set<unknown>();
  const walk = (m: Map<string | number, PthValue>, path: string): void => {
    if (seen.has(m)) return; // a hostile pickle can make cycles
    seen.add(m);
    for (const [k, v] of m) {
      const key = path === '' ? String(k) : `${path}.${String(k)}`;
      if (isHostTensor(v)) out.set(key, v);
      else if (v instanceof Map) walk(v, key);
    }
  };
  walk(root, '');
  return out;
}
