import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../examples/extract-features.js';

const root = join(import.meta.dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** The fenced block that follows a marker comment in the README. */
function blockAfter(marker: string): string {
  const at = readme.indexOf(marker);
  if (at < 0) throw new Error(`README has no ${marker}`);
  const m = /```[a-z]*\n([\s\S]*?)```/.exec(readme.slice(at));
  return m![1]!;
}

describe('README example', () => {
  it('shows examples/extract-features.ts verbatim', () => {
    expect(blockAfter('<!-- example -->')).toBe(
      readFileSync(join(root, 'examples/extract-features.ts'), 'utf8'),
    );
  });

  it('prints exactly the output shown in the README', async () => {
    const lines: string[] = [];
    await main((line) => lines.push(line));
    expect(`${lines.join('\n')}\n`).toBe(blockAfter('<!-- output -->'));
  });
});
