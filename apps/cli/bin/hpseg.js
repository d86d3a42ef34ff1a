#!/usr/bin/env node
// Launcher of the `hpseg` command. Runs the built CLI (dist/main.js) when it exists; on a fresh
// clone without a build it re-runs Node on the TypeScript sources through tsx, resolving the
// workspace packages by their `@hpseg/source` condition, so `npx hpseg demo` works after `npm ci`.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const built = join(here, '..', 'dist', 'main.js');

if (existsSync(built)) {
  await import(pathToFileURL(built).href);
} else {
  const source = join(here, '..', 'src', 'main.ts');
  const tsx = import.meta.resolve('tsx');
  const child = spawn(
    process.execPath,
    ['--conditions=@hpseg/source', '--import', tsx, source, ...process.argv.slice(2)],
    { stdio: 'inherit' },
  );
  // The terminal sends Ctrl-C to the child too; the parent only waits for it.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? (signal ? 128 + 2 : 1);
  });
  child.on('error', (error) => {
    process.stderr.write(`hpseg: cannot start node: ${error.message}\n`);
    process.exitCode = 1;
  });
}
