import { describeValue, HpError } from '@hpseg/core';

/**
 * A TF.js tensor seen structurally (we never import `@tensorflow/tfjs-core` at run time: it is an
 * optional peer of this package). `dataSync()` reads the values without creating tensors.
 */
export interface TensorLike {
  readonly dtype: string;
  readonly shape: readonly number[];
  dataSync(): ArrayLike<number> | ArrayLike<string> | Uint8Array[];
}

/** Integer typed arrays: their elements are integers by construction, so they skip the value check. */
export type IntLabelArray = Int32Array | Uint8Array | Int16Array | Uint16Array | Int8Array | Uint32Array;

/** What `update` accepts for predictions and ground truth (flattened in row-major order). */
export type LabelInput = IntLabelArray | Float32Array | Float64Array | readonly number[] | TensorLike;

/** Flat label values plus whether they are known to be integers. */
export interface FlatLabels {
  readonly values: ArrayLike<number>;
  readonly integral: boolean;
}

function isTensorLike(x: unknown): x is TensorLike {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as { dataSync?: unknown }).dataSync === 'function' &&
    typeof (x as { dtype?: unknown }).dtype === 'string'
  );
}

const INT_ARRAYS = [Int32Array, Uint8Array, Int16Array, Uint16Array, Int8Array, Uint32Array] as const;

/**
 * Reads a label input into a flat array without copying where possible. Tensors of dtype
 * `string` / `complex64` and other inputs give `E_ARG`.
 */
export function readLabels(fn: string, what: string, input: unknown): FlatLabels {
  if (isTensorLike(input)) {
    const { dtype } = input;
    if (dtype !== 'int32' && dtype !== 'float32' && dtype !== 'bool') {
      throw new HpError(
        'E_ARG',
        `${fn}: ${what} has an unsupported dtype: expected an int32, float32 or bool tensor, got ${dtype}`,
        { details: { dtype } },
      );
    }
    const values = input.dataSync() as Int32Array | Float32Array | Uint8Array;
    return { values, integral: dtype !== 'float32' };
  }
  if (INT_ARRAYS.some((T) => input instanceof T)) return { values: input as IntLabelArray, integral: true };
  if (input instanceof Float32Array || input instanceof Float64Array)
    return { values: input, integral: false };
  if (Array.isArray(input)) return { values: input as number[], integral: false };
  throw new HpError(
    'E_ARG',
    `${fn}: ${what} has an unsupported type: expected an Int32Array, Uint8Array, Int16Array, number[], ` +
      `Float32Array or a TF.js tensor, got ${describeValue(input)}`,
  );
}

/** Throws `E_VALUE` at the first element that is not an integer number (NaN, 1.5, '3', undefined). */
export function assertIntegerLabels(fn: string, what: string, labels: FlatLabels): void {
  if (labels.integral) return;
  const v = labels.values;
  const n = v.length;
  for (let i = 0; i < n; i++) {
    const x = v[i];
    if (!Number.isInteger(x)) {
      throw new HpError(
        'E_VALUE',
        `${fn}: ${what} holds a non-integer label: expected integer class ids, got ${describeValue(x)} at index ${i}`,
        { details: { index: i, received: x } },
      );
    }
  }
}
