import { readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { describe, expect, it, vi } from 'vitest';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The fenced block of README.md between `<!-- name:start -->` and `<!-- name:end -->`. */
function block(name: string): string {
  const m = readme.match(
    new RegExp(`<!-- ${name}:start -->\\s*\`\`\`\\w*\\n([\\s\\S]*?)\`\`\`\\s*<!-- ${name}:end -->`),
  );
  if (!m) throw new Error(`README.md has no ${name} block`);
  return m[1]!;
}

describe('README', () => {
  it('the example runs and prints exactly the output shown', { timeout: 120_000 }, async () => {
    const file = new URL(`./readme-example-${process.pid}.generated.mjs`, import.meta.url);
    await writeFile(file, block('example'));
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      lines.push(args.map(String).join(' '));
    });
    try {
      await import(/* @vite-ignore */ file.href);
    } finally {
      spy.mockRestore();
      await rm(file, { force: true });
    }
    expect(`${lines.join('\n')}\n`).toBe(block('output'));
  });
});
