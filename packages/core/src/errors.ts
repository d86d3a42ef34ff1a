/**
 * The one error class of hpseg. `code` is a stable string (check errors by `name` and `code`, not
 * `instanceof`, since several copies of this package may be loaded). Messages read
 * `function: what is wrong: expected X, got Y. Likely cause or fix.`
 */
export type HpErrorCode =
  | 'E_ARG' // an argument has the wrong value or type
  | 'E_SHAPE' // a tensor or array has the wrong shape or length
  | 'E_DTYPE' // a tensor or array has the wrong element type
  | 'E_VALUE' // values out of range, NaN, non-integer labels
  | 'E_CONFIG' // a configuration failed validation
  | 'E_BACKEND' // a TF.js backend or engine is missing or failed to initialise
  | 'E_IO' // reading or writing a file failed
  | 'E_NOT_FOUND' // a file, folder or key does not exist
  | 'E_FORMAT' // a file is not in the expected format (corrupt, truncated, wrong magic)
  | 'E_UNSAFE' // a file asks for something we refuse to do (pickle globals, opcodes)
  | 'E_CHECKPOINT' // a checkpoint does not match the model (missing, unexpected, mis-shaped keys)
  | 'E_DOWNLOAD' // a download failed or its checksum did not match
  | 'E_DATASET' // a dataset on disk is incomplete or inconsistent
  | 'E_NUMERIC' // a non-finite value appeared in a computation
  | 'E_TIMEOUT' // work did not finish in the allotted time
  | 'E_INTERRUPTED' // work was stopped by the user
  | (string & {}); // packages may add their own codes

export interface HpErrorOptions {
  /** Machine-readable details (received values, paths, lists of keys). */
  details?: Record<string, unknown>;
  /** A short hint a CLI can print under the message. */
  hint?: string;
  cause?: unknown;
}

export class HpError extends Error {
  override readonly name = 'HpError';
  readonly code: HpErrorCode;
  readonly details: Record<string, unknown> | undefined;
  readonly hint: string | undefined;

  constructor(code: HpErrorCode, message: string, options: HpErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
    this.hint = options.hint;
  }
}

/** True for any `HpError`, also one thrown by another copy of this package. */
export function isHpError(error: unknown, code?: HpErrorCode): error is HpError {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { name?: unknown; code?: unknown };
  return e.name === 'HpError' && typeof e.code === 'string' && (code === undefined || e.code === code);
}

/** Short, readable rendering of a received value for error messages. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (Array.isArray(value)) {
    const head = value.slice(0, 8).map(describeValue).join(', ');
    return `[${head}${value.length > 8 ? `, ... (${value.length} items)` : ''}]`;
  }
  if (ArrayBuffer.isView(value)) {
    return `${value.constructor.name}(length ${(value as unknown as { length: number }).length})`;
  }
  if (typeof value === 'object') {
    const shape = (value as { shape?: unknown }).shape;
    const dtype = (value as { dtype?: unknown }).dtype;
    if (Array.isArray(shape)) return `tensor ${dtype ?? ''}[${shape.join(', ')}]`;
    return `object with keys {${Object.keys(value).slice(0, 8).join(', ')}}`;
  }
  return typeof value;
}
