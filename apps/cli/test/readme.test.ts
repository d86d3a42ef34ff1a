import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../src/run.js';
import { captureIo } from './helpers.js';

describe('README', () => {
  it('shows the real output of `hpseg --help`', async () => {
    const readme = await readFile(join(import.meta.dirname, '..', 'README.md'), 'utf8');
    const block = readme.split('$ npx hpseg --help\n')[1]?.split('\n```')[0];
    const io = captureIo();
    expect(await run(['--help'], io)).toBe(0);
    expect(`${block}\n`).toBe(io.out());
  });

  it('documents every exit code of the handler', async () => {
    const readme = await readFile(join(import.meta.dirname, '..', 'README.md'), 'utf8');
    const { EXIT_CODES } = await import('../src/errors.js');
    for (const [code, exit] of Object.entries(EXIT_CODES)) {
      expect(readme).toMatch(new RegExp(`\\| ${exit} +\\|[^\\n]*\`${code}\``));
    }
  });
});
