import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { HpError } from './errors.js';

/** Temporary sibling path used by the atomic writers (same directory, so `rename` is atomic). */
export function temporaryPathFor(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/**
 * Writes a file so that readers see either the old content or the complete new one, never a
 * half-written file: write to a temporary sibling, fsync, then rename over the target.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = temporaryPathFor(path);
  try {
    await mkdir(dirname(path), { recursive: true });
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw new HpError(
      'E_IO',
      `writeFileAtomic: cannot write ${path}: expected a writable location, got ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

/** `writeFileAtomic` of pretty-printed JSON with a trailing newline. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** Reads a whole file; a missing one → `E_NOT_FOUND`, an unreadable one → `E_IO`, both naming `fn` and the path. */
export async function readFileChecked(fn: string, path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new HpError(
      code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_IO',
      `${fn}: cannot read ${path}: expected a readable file, got ${(error as Error).message}`,
      { cause: error, details: { path } },
    );
  }
}
