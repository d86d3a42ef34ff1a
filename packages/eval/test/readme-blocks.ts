import { readFileSync } from 'node:fs';
import { format } from 'node:util';
import * as evalApi from '../src/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The fenced block of README.md between `<!-- name:start -->` and `<!-- name:end -->`. */
export function readmeBlock(name: string): string {
  const m = readme.match(
    new RegExp(`<!-- ${name}:start -->\\s*\`\`\`\\w*\\n([\\s\\S]*?)\`\`\`\\s*<!-- ${name}:end -->`),
  );
  if (!m) throw new Error(`README.md has no ${name} block`);
  return m[1]!;
}

const IMPORT_LINE = /^import \{([^}]*)\} from '@hpseg\/eval';\n/m;

/** Runs a README code block with `@hpseg/eval` bound to the sources; returns what it printed. */
export async function runReadmeBlock(name: string): Promise<string[]> {
  const code = readmeBlock(name);
  if (!IMPORT_LINE.test(code)) throw new Error(`README block ${name} does not import from '@hpseg/eval'`);
  const body = code.replace(IMPORT_LINE, (_, names: string) => `const {${names}} = api;\n`);
  const printed: string[] = [];
  const fakeConsole = { log: (...args: unknown[]) => printed.push(format(...args)) };
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (
    ...args: string[]
  ) => (...a: unknown[]) => Promise<void>;
  await new AsyncFunction('api', 'console', body)(evalApi, fakeConsole);
  return printed;
}
