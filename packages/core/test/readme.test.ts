import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it, vi } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The fenced blocks of the README after the `## Example` heading: code, then printed output. */
function exampleBlocks(): { code: string; output: string } {
  const section = readme.slice(readme.indexOf('## Example'));
  const blocks = [...section.matchAll(/```(\w+)\n([\s\S]*?)```/g)];
  return { code: blocks[0]![2]!, output: blocks[1]![2]! };
}

describe('README example', () => {
  it('shows exactly the code of examples/roundtrip.ts', () => {
    expect(exampleBlocks().code).toBe(readFileSync(join(ROOT, 'examples', 'roundtrip.ts'), 'utf8'));
  });

  it('prints what the README says it prints', async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      lines.push(args.map((a) => (typeof a === 'string' ? a : inspect(a))).join(' '));
    });
    try {
      await import('../examples/roundtrip.js');
    } finally {
      spy.mockRestore();
    }
    expect(`${lines.join('\n')}\n`).toBe(exampleBlocks().output);
  });
});
