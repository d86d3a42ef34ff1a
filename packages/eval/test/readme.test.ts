import { readFileSync } from 'node:fs';
import { format } from 'node:util';
import { describe, expect, it } from 'vitest';
import * as evalApi from '../src/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The fenced block between `<!-- name:start -->` and `<!-- name:end -->`. */
function block(name: string): string {
  const m = readme.match(
    new RegExp(`<!-- ${name}:start -->\\s*\`\`\`\\w*\\n([\\s\\S]*?)\`\`\`\\s*<!-- ${name}:end -->`),
  );
  if (!m) throw new Error(`README.md has no ${name} block`);
  return m[1]!;
}

describe('README example', () => {
  it('prints exactly the output shown in the README', async () => {
    const code = block('example');
    const importLine = /^import \{([^}]*)\} from '@hpseg\/eval';\n/m;
    expect(code).toMatch(importLine);
    // Same code, with the package import bound to the sources and console.log captured.
    const body = code.replace(importLine, (_, names: string) => `const {${names}} = api;\n`);
    const printed: string[] = [];
    const fakeConsole = { log: (...args: unknown[]) => printed.push(format(...args)) };
    const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (
      ...args: string[]
    ) => (...a: unknown[]) => Promise<void>;
    await new AsyncFunction('api', 'console', body)(evalApi, fakeConsole);
    expect(`${printed.join('\n')}\n`).toBe(block('output'));
  });

  it('shows the hand-checked numbers (3 classes, 15 valid pixels, 14 matched)', () => {
    const out = block('output');
    expect(out).toContain('counts [cluster, class]: 0 5 1 0 0 5 4 0 0');
    expect(out).toContain('assignment[cluster] = class: 1 2 0');
    // sky 4/4, ground 5/6, plant 5/6 -> mIoU (1 + 5/6 + 5/6) / 3 = 0.8889, accuracy 14/15 = 0.9333
    expect(out).toContain('accuracy 0.9333 mIoU 0.8889');
  });
});
