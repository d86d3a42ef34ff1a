export { EXIT_CODES, exitCodeFor, formatError } from './errors.js';
export type { CliIo, Writable } from './io.js';
export { mainHelp, run } from './run.js';
