/**
 * The control block a pool's threads share: a task counter the workers wait on, the task and its
 * parameters, a work counter for dynamic scheduling, a done counter the driver waits on, and an error
 * slot. Plain writes before the `seq` increment are visible to a worker once it has seen the new value
 * (Atomics are sequentially consistent).
 */
export const CONTROL_BYTES = 4096;

export const SEQ = 0;
export const TASK = 1;
export const NEXT = 2;
export const DONE = 3;
export const ERROR = 4;
export const QUIT = 5;
export const THREADS = 6;
const PARAMS = 16;
const MAX_PARAMS = 240;
const F64_OFFSET = 1024;
const MAX_F64 = 16;
const MESSAGE_OFFSET = 2048;
const MESSAGE_BYTES = CONTROL_BYTES - MESSAGE_OFFSET;

export interface Control {
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly message: Uint8Array;
}

export function controlOf(buffer: SharedArrayBuffer): Control {
  return {
    i32: new Int32Array(buffer, 0, F64_OFFSET / 4),
    f64: new Float64Array(buffer, F64_OFFSET, MAX_F64),
    message: new Uint8Array(buffer, MESSAGE_OFFSET, MESSAGE_BYTES),
  };
}

/** Writes a task's named integer parameters (byte addresses, counts) in the order of `names`. */
export function writeParams<K extends string>(
  control: Control,
  names: readonly K[],
  values: Readonly<Record<K, number>>,
): void {
  if (names.length > MAX_PARAMS) throw new Error(`too many task parameters: ${names.length}`);
  names.forEach((name, k) => {
    control.i32[PARAMS + k] = values[name];
  });
}

/** Reads them back; byte addresses come back unsigned (a memory may exceed 2 GiB). */
export function readParams<K extends string>(control: Control, names: readonly K[]): Record<K, number> {
  const out = {} as Record<K, number>;
  names.forEach((name, k) => {
    out[name] = control.i32[PARAMS + k]! >>> 0;
  });
  return out;
}

export function writeError(control: Control, message: string): void {
  const bytes = new TextEncoder().encode(message.slice(0, MESSAGE_BYTES / 4));
  control.message.fill(0);
  control.message.set(bytes.subarray(0, MESSAGE_BYTES - 1));
  Atomics.store(control.i32, ERROR, 1);
}

export function readError(control: Control): string {
  const copy = control.message.slice();
  const end = copy.indexOf(0);
  return new TextDecoder().decode(copy.subarray(0, end < 0 ? copy.length : end));
}
