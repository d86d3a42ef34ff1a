import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The version of this CLI (recorded with the packages' in every run, cache and report). */
export async function cliVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(join(here, '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** `{ '@hpseg/cli': version }`: what the CLI adds to the versions @hpseg/train records. */
export async function cliVersions(): Promise<Record<string, string>> {
  return { '@hpseg/cli': await cliVersion() };
}
