/** Where a command writes and how it is stopped. `run` takes this instead of touching `process`. */
export interface Writable {
  write(chunk: string): unknown;
}

export interface CliIo {
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** True when stderr is a terminal: progress bars instead of plain log lines. */
  readonly isTTY?: boolean;
  /** Environment variables (defaults to none: tests stay hermetic). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Aborted on Ctrl-C (or by a test): long work finishes its current step, saves and returns. */
  readonly signal?: AbortSignal;
}
