#!/usr/bin/env node
// Launcher of the `hpseg` command. An installed package runs the built CLI (dist/main.js). In a source
// checkout of the repository (tsconfig.json beside package.json; the published tarball has none) it
// runs the build when it and the built workspace packages it imports exist; otherwise (a fresh clone,
// or a partial build) it re-runs Node on the TypeScript sources through tsx (a devDependency of the
// repository, an optional peer of this package), resolving the workspace packages by their
// `@hpseg/source` condition, so `npx hpseg demo` works right after `npm ci`.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(packageRoot, 'dist', 'main.js');
const source = join(packageRoot, 'src', 'main.ts');
const sourceCheckout = existsSync(join(packageRoot, 'tsconfig.json')) && existsSync(source);
const require = createRequire(import.meta.url);

/** True when every @hpseg/* dependency's built entry (the file its `import` condition names) exists. */
function dependenciesBuilt() {
  const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8'));
  for (const name of Object.keys(pkg.dependencies ?? {})) {
    if (!name.startsWith('@hpseg/')) continue;
    try {
      const manifestPath = require.resolve(`${name}/package.json`);
      const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
      const entry = manifest.exports?.['.']?.import;
      if (typeof entry !== 'string' || !existsSync(join(dirname(manifestPath), entry))) return false;
    } catch {
      return false;
    }
  }
  return true;
}

if (!sourceCheckout || (existsSync(built) && dependenciesBuilt())) {
  await import(pathToFileURL(built).href);
} else {
  let tsx;
  try {
    tsx = pathToFileURL(require.resolve('tsx')).href;
  } catch {
    process.stderr.write(
      'hpseg: this source checkout has no build, and running its TypeScript sources needs tsx: expected the tsx package, got none. Run `npm ci` at the repository root (tsx is a devDependency) or `npm run build`.\n',
    );
    process.exit(1);
  }
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
