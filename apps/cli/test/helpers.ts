import type { CliIo } from '../src/io.js';

export interface CapturedIo extends CliIo {
  out(): string;
  err(): string;
}

/** An in-memory `CliIo` for calling `run(argv, io)` in tests. */
export function captureIo(signal?: AbortSignal): CapturedIo {
  let out = '';
  let err = '';
  return {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    isTTY: false,
    env: {},
    ...(signal ? { signal } : {}),
    out: () => out,
    err: () => err,
  };
}
