import { readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const readme = readFileSync(join(here, '..', 'README.md'), 'utf8');
const generated = join(here, `readme-example-${process.pid}.generated.ts`);

afterAll(async () => {
  await rm(generated, { force: true });
});

describe('README', () => {
  it('the example runs and prints exactly the output shown', async () => {
    const code = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    const shown = /```text\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(code).toBeDefined();
    expect(shown).toBeDefined();
    await writeFile(generated, code!.replaceAll("'@hpseg/seg-head'", "'../src/index.js'"));
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      lines.push(args.map(String).join(' '));
    });
    try {
      await import(/* @vite-ignore */ generated);
    } finally {
      spy.mockRestore();
    }
    expect(lines.join('\n')).toBe(shown!.trimEnd());
  });
});
