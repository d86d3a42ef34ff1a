import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { format } from 'node:util';
import { describe, expect, it, vi } from 'vitest';

const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');

/** The fenced block of README.md between `<!-- name:start -->` and `<!-- name:end -->`. */
function readmeBlock(name: string): string {
  const m = readme.match(
    new RegExp(`<!-- ${name}:start -->\\s*\`\`\`\\w*\\n([\\s\\S]*?)\`\`\`\\s*<!-- ${name}:end -->`),
  );
  if (!m) throw new Error(`README.md has no ${name} block`);
  return m[1]!;
}

describe('README example', () => {
  // The block is plain Node ESM; `npm run test:pack` runs it from the installed tarballs, this test
  // from the sources (the package resolves through the `@hpseg/source` condition).
  it('prints exactly the output shown in the README', async () => {
    const file = join(import.meta.dirname, `readme-example.${process.pid}.generated.mjs`);
    writeFileSync(file, readmeBlock('example'));
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      lines.push(format(...args));
    });
    try {
      await import(/* @vite-ignore */ file);
    } finally {
      spy.mockRestore();
      rmSync(file, { force: true });
    }
    expect(`${lines.join('\n')}\n`).toBe(readmeBlock('output'));
  });
});
