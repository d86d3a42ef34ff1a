import { isHpError } from '@hpseg/core';

/**
 * Exit codes of `hpseg`, one per family of `HpError` codes. Documented in the README; stable.
 * 0 success · 1 unexpected internal error (bug: a stack trace is printed) · 2 usage/config ·
 * 3 missing file/data · 4 bad file format/checkpoint · 5 I/O or download · 6 backend ·
 * 7 numerical failure (non-finite loss) · 8 bad values/shapes · 9 timeout · 130 interrupted.
 */
export const EXIT_CODES: Readonly<Record<string, number>> = {
  E_ARG: 2,
  E_CONFIG: 2,
  E_NOT_FOUND: 3,
  E_DATASET: 3,
  E_FORMAT: 4,
  E_CHECKPOINT: 4,
  E_UNSAFE: 4,
  E_STALE: 4,
  E_IO: 5,
  E_DOWNLOAD: 5,
  E_BACKEND: 6,
  E_NUMERIC: 7,
  E_VALUE: 8,
  E_SHAPE: 8,
  E_DTYPE: 8,
  E_TIMEOUT: 9,
  E_INTERRUPTED: 130,
};

export const EXIT_OK = 0;
export const EXIT_INTERNAL = 1;
/** Codes not in the table (a package's own code) map to this. */
export const EXIT_OTHER_HP = 10;

export function exitCodeFor(error: unknown): number {
  if (!isHpError(error)) return EXIT_INTERNAL;
  return EXIT_CODES[error.code] ?? EXIT_OTHER_HP;
}

/** `hpseg: E_CODE: message` (+ `  hint: ...`), or a stack for errors that are not `HpError`s. */
export function formatError(error: unknown): string {
  if (isHpError(error)) {
    const firstLine = error.message.split('\n')[0] ?? '';
    const hint = error.hint ? `\n  hint: ${error.hint}` : '';
    return `hpseg: ${error.code}: ${firstLine}${hint}\n`;
  }
  const e = error as { stack?: unknown; message?: unknown };
  const stack = typeof e?.stack === 'string' ? e.stack : String(error);
  return `hpseg: internal error (please report with the trace below)\n${stack}\n`;
}
