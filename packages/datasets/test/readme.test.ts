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
    const code = readme.split('```ts\n')[1]!.split('\n```')[0]!;
    const source = readFileSync(new URL('./readme-example.ts', import.meta.url), 'utf8');
    const norm = (l: string) => l.trim().replace(/console\.log\(/, 'log(');
    for (const line of code.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('import'))) {
      expect(source).toContain(norm(line));
    }
  });
});
