#!/usr/bin/env node
// Launcher of the `hpseg` command. Runs the built CLI (dist/main.js) when it and the built workspace
// packages it imports exist; otherwise (a fresh clone, or a partial build) it re-runs Node on the
// TypeScript sources through tsx, resolving the workspace packages by their `@hpseg/source`
// condition, so `npx hpseg demo` works right after `npm ci`.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const built = join(here, '..', 'dist', 'main.js');
const source = join(here, '..', 'src', 'main.ts');

/** True when every @hpseg/* dependency resolves to a file that exists (its dist is built). */
function dependenciesBuilt() {
  const pkg = JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8'));
  for (const name of Object.keys(pkg.dependencies ?? {})) {
    if (!name.startsWith('@hpseg/')) continue;
    try {
      if (!existsSync(fileURLToPath(import.meta.resolve(name)))) return false;
    } catch {
      return false;
    }
  }
  return true;
}

if (existsSync(built) && (!existsSync(source) || dependenciesBuilt())) {
  await import(pathToFileURL(built).href);
} else {
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
