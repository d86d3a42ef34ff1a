import type { CommandSpec, Parsed } from './args.js';
import type { CliIo } from './io.js';

/** A command module: its flags (for parsing and `--help`) and what it does. Returns the exit code. */
export interface Command {
  readonly spec: CommandSpec;
  execute(parsed: Parsed, io: CliIo): Promise<number>;
}
