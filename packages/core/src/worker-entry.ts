import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { HpError } from './errors.js';

/** How to start a worker thread: pass `entry` to `new Worker(entry, { eval, execArgv })`. */
export interface WorkerEntry {
  entry: URL | string;
  eval: boolean;
  /** Node options for the worker (undefined: inherit the parent's). */
  execArgv?: string[];
}

export interface WorkerEntryOptions {
  /** Who asks, for error messages (`createCrfPool`, `loadBackbone`). */
  fn: string;
  /** The calling module's `import.meta.url`. */
  moduleUrl: string;
  /** Built entry files relative to `moduleUrl`, tried in order (`./crf-worker.js`). */
  built: readonly string[];
  /** The TypeScript source entry relative to `moduleUrl` (`./crf-worker.ts`). */
  source: string;
  /** The package to rebuild when neither exists (`@hpseg/eval`). */
  packageName: string;
}

/**
 * Finds a package's worker entry: the built `.js` file next to the calling module, else its TypeScript
 * source run through tsx (tests and `tsx` runs). Node 20 does not apply `--import` loader hooks to a
 * worker's entry, so the source case boots from a small script that registers tsx's ESM API first, and
 * adds the `@hpseg/source` export condition so workspace packages resolve to their sources too.
 */
export function resolveWorkerEntry(options: WorkerEntryOptions): WorkerEntry {
  const { fn, moduleUrl, packageName } = options;
  for (const candidate of options.built) {
    const url = new URL(candidate, moduleUrl);
    if (url.protocol === 'file:' && existsSync(fileURLToPath(url))) return { entry: url, eval: false };
  }
  const source = new URL(options.source, moduleUrl);
  if (source.protocol === 'file:' && existsSync(fileURLToPath(source))) {
    let tsxApi: string;
    try {
      // The ESM build of tsx's API (require.resolve returns the CommonJS one next to it).
      tsxApi = createRequire(moduleUrl)
        .resolve('tsx/esm/api')
        .replace(/\.cjs$/, '.mjs');
    } catch (error) {
      throw new HpError(
        'E_NOT_FOUND',
        `${fn}: cannot run the worker from TypeScript source: expected the tsx package, got none. Build ${packageName} or install tsx.`,
        { cause: error },
      );
    }
    const code = `import(${JSON.stringify(pathToFileURL(tsxApi).href)}).then((api) => { api.register(); return import(${JSON.stringify(source.href)}); });`;
    const condition = '--conditions=@hpseg/source';
    const execArgv = process.execArgv.includes(condition)
      ? process.execArgv
      : [...process.execArgv, condition];
    return { entry: code, eval: true, execArgv };
  }
  throw new HpError(
    'E_NOT_FOUND',
    `${fn}: the worker entry is missing: expected ${options.built[0]} next to ${moduleUrl}. Rebuild ${packageName}.`,
  );
}
