import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readmeExample } from './readme-example.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('README example', () => {
  it('prints what the README says', async () => {
    const lines: string[] = [];
    await readmeExample((l) => lines.push(l));
    const printed = readme
      .split('prints (checked by `test/readme.test.ts`):\n\n```\n')[1]!
      .split('\n```')[0]!;
    expect(lines.join('\n')).toBe(printed);
  });
  it('the README code is the code that ran', () => {
    const block = readme.split('```ts\n')[1]!.split('\n```')[0]!;
    const code = block.split("from '@hpseg/datasets';")[1]!; // the import differs: the test imports ../src
    const source = readFileSync(new URL('./readme-example.ts', import.meta.url), 'utf8');
    const norm = (l: string) => l.trim().replace(/console\.log\(/, 'log(');
    for (const line of code.split('\n').filter((l) => l.trim() !== '')) {
      expect(source).toContain(norm(line));
    }
  });
});
