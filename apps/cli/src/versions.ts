import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGES = [
  '@hpseg/core',
  '@hpseg/backbone-vit',
  '@hpseg/seg-head',
  '@hpseg/hidden-positives',
  '@hpseg/datasets',
  '@hpseg/eval',
  '@tensorflow/tfjs-core',
] as const;

const here = dirname(fileURLToPath(import.meta.url));

export async function cliVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(join(here, '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** Versions of the CLI and the packages it runs, recorded in every run's outputs. */
export async function packageVersions(): Promise<Record<string, string>> {
  const require = createRequire(import.meta.url);
  const out: Record<string, string> = { '@hpseg/cli': await cliVersion() };
  for (const name of PACKAGES) {
    try {
      const pkg = require(`${name}/package.json`) as { version?: string };
      out[name] = pkg.version ?? 'unknown';
    } catch {
      out[name] = 'unknown';
    }
  }
  return out;
}

/** `git rev-parse HEAD` of the working directory, or null outside a repository. */
export function gitCommit(cwd: string = process.cwd()): Promise<string | null> {
  return new Promise((resolve) => {
    execFile('git', ['rev-parse', 'HEAD'], { cwd, timeout: 5000 }, (error, stdout) => {
      resolve(error ? null : stdout.trim() || null);
    });
  });
}
