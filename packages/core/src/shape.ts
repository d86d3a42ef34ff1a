import { HpError } from './errors.js';

/** A dimension spec: a fixed size, `null` for "any size", or a name that must agree across calls. */
export type DimSpec = number | null | string;

/** Renders a shape spec like `[B, 28, 28, null]` as `[B, 28, 28, *]`. */
export function formatShape(shape: readonly DimSpec[]): string {
  return `[${shape.map((d) => (d === null ? '*' : String(d))).join(', ')}]`;
}

/**
 * Checks `shape` against `spec` and returns the sizes bound to named dimensions.
 * `bound` carries names already fixed by earlier checks (so `B` must agree across tensors).
 *
 * assertShape('hiddenPositiveLoss', 'z', z.shape, ['N', 'D'])
 */
export function assertShape(
  fn: string,
  what: string,
  shape: readonly number[],
  spec: readonly DimSpec[],
  bound: Record<string, number> = {},
): Record<string, number> {
  const fail = (detail: string): never => {
    throw new HpError(
      'E_SHAPE',
      `${fn}: ${what} has the wrong shape: expected ${formatShape(spec)}${detail}, got [${shape.join(', ')}]`,
      { details: { expected: spec, received: [...shape], bound: { ...bound } } },
    );
  };
  if (shape.length !== spec.length) fail(` (rank ${spec.length})`);
  const out = { ...bound };
  spec.forEach((d, i) => {
    const got = shape[i]!;
    if (d === null) return;
    if (typeof d === 'number') {
      if (got !== d) fail('');
      return;
    }
    const prev = out[d];
    if (prev === undefined) out[d] = got;
    else if (prev !== got) fail(` with ${d} = ${prev}`);
  });
  return out;
}

/** Throws unless `value` is an integer in `[min, max]`. */
export function assertInt(fn: string, what: string, value: unknown, min = -Infinity, max = Infinity): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range =
      min === -Infinity && max === Infinity
        ? 'an integer'
        : max === Infinity
          ? `an integer >= ${min}`
          : `an integer in [${min}, ${max}]`;
    throw new HpError('E_ARG', `${fn}: ${what} is invalid: expected ${range}, got ${String(value)}`, {
      details: { received: value },
    });
  }
  return value;
}

/** Throws unless `value` is a finite number in `[min, max]`. */
export function assertNumber(
  fn: string,
  what: string,
  value: unknown,
  min = -Infinity,
  max = Infinity,
): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new HpError(
      'E_ARG',
      `${fn}: ${what} is invalid: expected a finite number in [${min}, ${max}], got ${String(value)}`,
      { details: { received: value } },
    );
  }
  return value;
}

/** Product of the dimensions. */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
