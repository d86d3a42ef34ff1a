import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';

/** The packages whose versions every run, cache and report records. */
const PACKAGES = [
  '@hpseg/core',
  '@hpseg/backbone-vit',
  '@hpseg/seg-head',
  '@hpseg/hidden-positives',
  '@hpseg/datasets',
  '@hpseg/eval',
  '@hpseg/train',
  '@tensorflow/tfjs-core',
] as const;

/** Versions of the hpseg packages and tfjs-core as installed (`unknown` when one cannot be read), plus `extra`. */
export function packageVersions(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  const require = createRequire(import.meta.url);
  const out: Record<string, string> = { ...extra };
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

/** `git rev-parse HEAD` of a directory (default the working directory), or null outside a repository. */
export function gitCommit(cwd: string = process.cwd()): Promise<string | null> {
  return new Promise((resolve) => {
    execFile('git', ['rev-parse', 'HEAD'], { cwd, timeout: 5000 }, (error, stdout) => {
      resolve(error ? null : stdout.trim() || null);
    });
  });
}
