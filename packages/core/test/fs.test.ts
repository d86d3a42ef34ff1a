import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic, writeJsonAtomic } from '../src/index.js';

describe('writeFileAtomic', () => {
  it('replaces the file whole and leaves no temporary sibling', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hpseg-core-'));
    const path = join(dir, 'sub', 'a.json');
    await writeJsonAtomic(path, { a: 1 });
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ a: 1 });
    await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    expect([...(await readFile(path))]).toEqual([1, 2, 3]);
    expect(await readdir(join(dir, 'sub'))).toEqual(['a.json']);
  });

  it('fails with E_IO and leaves the old file when the target cannot be written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hpseg-core-'));
    const blocker = join(dir, 'file');
    await writeFile(blocker, 'x');
    await expect(writeFileAtomic(join(blocker, 'child'), 'y')).rejects.toMatchObject({ name: 'HpError' });
    expect(await readFile(blocker, 'utf8')).toBe('x');
  });
});
