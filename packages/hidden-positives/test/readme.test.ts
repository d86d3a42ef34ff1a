import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { main } from './readme-example.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const example = readFileSync(new URL('./readme-example.ts', import.meta.url), 'utf8');

describe('README example', () => {
  it('the README shows the example file verbatim', () => {
    expect(readme).toContain(`\`\`\`ts\n${example}\`\`\``);
  });

  it('prints the output shown in the README', async () => {
    const lines: string[] = [];
    await main((line) => lines.push(line));
    const shown = /Printed output \(cpu backend\):\n\n```text\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(shown).toBeDefined();
    expect(lines.join('\n') + '\n').toBe(shown);
  });
});
