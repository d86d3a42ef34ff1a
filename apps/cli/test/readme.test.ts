import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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

  it('the example block (a 5-iteration demo) prints its output block; … stands for any text', async () => {
    const readme = await readFile(join(import.meta.dirname, '..', 'README.md'), 'utf8');
    const block = (name: string) =>
      readme.match(
        new RegExp(`<!-- ${name}:start -->\\s*\`\`\`\\w*\\n([\\s\\S]*?)\`\`\`\\s*<!-- ${name}:end -->`),
      )?.[1];
    const command = block('example')?.trim();
    expect(command).toMatch(/^npx hpseg demo /);
    const dir = mkdtempSync(join(tmpdir(), 'hpseg-readme-'));
    try {
      // `--out demo` is relative to the user's folder; here a temporary one (the … hides it).
      const argv = command!.replace(/^npx hpseg /, '').replace('--out demo', `--out ${join(dir, 'demo')}`);
      const io = captureIo();
      expect(await run(argv.split(' '), io)).toBe(0);
      const expected = block('output')!.trimEnd().split('\n');
      const printed = io.out().trimEnd().split('\n');
      const pattern = (line: string) =>
        new RegExp(
          `^${line
            .split('…')
            .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
            .join('.*?')}$`,
        );
      expect(printed.length).toBe(expected.length);
      for (const [i, line] of expected.entries()) expect(printed[i]).toMatch(pattern(line));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
