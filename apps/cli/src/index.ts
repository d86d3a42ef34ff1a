export { EXIT_CODES, exitCodeFor, formatError } from './errors.js';
export type { CliIo, Writable } from './io.js';
export { assignToCentroids, kmeans } from './kmeans.js';
export { mainHelp, run } from './run.js';
