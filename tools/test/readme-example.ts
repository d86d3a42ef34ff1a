import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { format } from 'node:util';
import { describe, expect, it, vi } from 'vitest';

/** The fenced block of a README between `<!-- name:start -->` and `<!-- name:end -->`. */
export function readmeBlock(readme: string, name: string): string {
  const m = readme.match(
    new RegExp(`<!-- ${name}:start -->\\s*\`\`\`\\w*\\n([\\s\\S]*?)\`\`\`\\s*<!-- ${name}:end -->`),
  );
  if (!m) throw new Error(`README.md has no ${name} block`);
  return m[1]!;
}

/**
 * The README test of a package (test files of every package call it with their folder): its `example`
 * block, plain Node ESM, runs from the sources (the package resolves through the `@hpseg/source`
 * condition; `npm run test:pack` runs the same block from the installed tarballs) and must print exactly
 * the `output` block.
 */
export function describeReadmeExample(testDir: string, options: { timeout?: number } = {}): void {
  const readme = readFileSync(join(testDir, '..', 'README.md'), 'utf8');
  describe('README example', () => {
    it('prints exactly the output shown in the README', { timeout: options.timeout ?? 60_000 }, async () => {
      const file = join(testDir, `readme-example.${process.pid}.generated.mjs`);
      writeFileSync(file, readmeBlock(readme, 'example'));
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
      expect(`${lines.join('\n')}\n`).toBe(readmeBlock(readme, 'output'));
    });
  });
}
