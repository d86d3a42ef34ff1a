import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// tools/device/golden-runner.ts stands in for vitest in the device bundle. Here it runs
// fixtures/runner-cases.ts, bundled the way build-bundle.mjs bundles the webgpu test files (`vitest`
// resolved to the runner, one entry that imports the file and then runs what it collected), in a
// plain Node process; the report must say what vitest would say of each case.
const HERE = fileURLToPath(new URL('.', import.meta.url));
const RUNNER = join(HERE, '..', 'golden-runner.ts');
const CASES = join(HERE, 'fixtures', 'runner-cases.ts');

let dir: string;
let run: { status: number | null; lines: string[]; stdout: string };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hpseg-golden-runner-'));
  await build({
    stdin: {
      contents: [
        `import { runCollected } from ${JSON.stringify(RUNNER)};`,
        `import ${JSON.stringify(CASES)};`,
        "await runCollected('runner-cases.ts');",
      ].join('\n'),
      resolveDir: HERE,
      loader: 'js',
    },
    outfile: join(dir, 'cases.mjs'),
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    alias: { vitest: RUNNER },
    logLevel: 'silent',
  });
  const child = spawnSync(process.execPath, [join(dir, 'cases.mjs')], { encoding: 'utf8' });
  run = { status: child.status, stdout: child.stdout, lines: child.stdout.split('\n') };
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The report line of one test: its symbol (✓ passed, × failed, ↓ skipped). */
function outcome(title: string): string | undefined {
  const line = run.lines.find((l) => /^ {2}[✓×↓] /.test(l) && l.slice(4).startsWith(title));
  return line?.trim()[0];
}

describe('the device bundle’s golden-test runner', () => {
  it('reports every case as vitest would', () => {
    const expected: Record<string, string> = {
      'hooks > inner > passes between the hooks': '✓',
      'outcomes > passes': '✓',
      'outcomes > fails on a wrong value': '×',
      'outcomes > fails on an awaited expectation that does not hold': '×',
      'outcomes > fails on an un-awaited expectation that does not hold': '×',
      'outcomes > passes with the matchers the webgpu tests use': '✓',
      'outcomes > fails when expect.fail is called': '×',
      'outcomes > passes: it.fails with a body that throws': '✓',
      'outcomes > fails: it.fails with a body that passes': '×',
      'outcomes > fails past its own timeout': '×',
      'outcomes > is skipped': '↓',
      'outcomes > is skipped by runIf(false)': '↓',
      'outcomes > passes: skipIf(false) runs': '✓',
      'outcomes > passes: test is it': '✓',
      'a skipped suite > is skipped with its suite': '↓',
      'each a > passes: a 1 + 1 = 2': '✓',
      'each a > passes: a 3 + 1 = 4': '✓',
      'each b > passes: b 1 + 1 = 2': '✓',
      'each b > passes: b 3 + 1 = 4': '✓',
      'a failing beforeAll > fails with the hook error': '×',
      'a failing afterEach > fails with the afterEach error': '×',
    };
    const got = Object.fromEntries(Object.keys(expected).map((t) => [t, outcome(t)]));
    expect(got).toEqual(expected);
    expect(run.lines.filter((l) => /^ {2}[✓×↓] /.test(l))).toHaveLength(Object.keys(expected).length);
    expect(run.stdout).toContain('Tests  10 passed | 8 failed | 3 skipped (21) in runner-cases.ts');
  });

  it('exits non-zero when a test failed', () => {
    expect(run.status).toBe(1);
  });

  it('runs hooks in vitest’s order: beforeEach outer to inner, afterEach inner to outer', () => {
    expect(run.stdout).toContain(
      'order: beforeAll, beforeEach outer, beforeEach inner, test, afterEach inner, afterEach outer, afterAll',
    );
  });

  it('prints why a test failed: the assertion, the hook error, the timeout', () => {
    expect(run.stdout).toMatch(/AssertionError: expected 2 to be 3/);
    expect(run.stdout).toMatch(/told to fail/);
    expect(run.stdout).toMatch(/beforeAll failed: Error: setup broke/);
    expect(run.stdout).toMatch(/Error: teardown broke/);
    expect(run.stdout).toMatch(/test timed out in 50 ms/);
    expect(run.stdout).toMatch(/expect test to fail \(it\.fails\), but it passed/);
  });
});
