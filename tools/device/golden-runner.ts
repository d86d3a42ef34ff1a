/**
 * A small stand-in for vitest's test API, for the device bundle (tools/device/build-bundle.mjs):
 * there `import ... from 'vitest'` in the webgpu golden test files resolves to this module, so the
 * test files run unchanged (same fixtures, same tolerances, same assertions) with plain `node` and
 * no node_modules. vitest itself cannot travel: it transforms the sources with vite at run time.
 *
 * `expect` is vitest's own: `@vitest/expect`'s chai plugins, installed as vitest 4 installs them
 * (`createExpect` in vitest's dist), without snapshots. The runner covers what those files use:
 * describe / it / test with `.skip`, `.skipIf`, `.runIf`, `.each`, `it.fails`, and the four hooks,
 * with vitest's semantics (collected at import, run in order; beforeAll before a suite's first test
 * that runs, afterAll after its last; beforeEach outer to inner, afterEach inner to outer; a hook or
 * a test past the 60 s timeout of this repository's vitest.config.ts fails). Each bundled test file
 * runs in its own process, as vitest isolates files.
 */
import {
  ASYMMETRIC_MATCHERS_OBJECT,
  ChaiStyleAssertions,
  chai,
  customMatchers,
  GLOBAL_EXPECT,
  getState,
  JestAsymmetricMatchers,
  JestChaiExpect,
  JestExtend,
  setState,
} from '@vitest/expect';

chai.use(JestExtend);
chai.use(JestChaiExpect);
chai.use(ChaiStyleAssertions);
chai.use(JestAsymmetricMatchers);

/** The test being run: un-awaited `expect(...).resolves/rejects` promises are recorded on it. */
let current: { promises?: Promise<unknown>[] } | null = null;

type Expect = typeof import('vitest').expect;

function createExpect(): Expect {
  const expect = ((value: unknown, message?: string) => {
    const { assertionCalls } = getState(expect as never);
    setState({ assertionCalls: assertionCalls + 1 }, expect as never);
    const assert = chai.expect(value, message) as unknown as { withTest(test: object): unknown };
    return current === null ? assert : assert.withTest(current);
  }) as unknown as Expect & Record<string, unknown>;
  Object.assign(expect, chai.expect);
  Object.assign(expect, (globalThis as Record<symbol, object>)[ASYMMETRIC_MATCHERS_OBJECT]);
  expect.getState = () => getState(expect as never);
  expect.setState = (state: object) => setState(state as never, expect as never);
  setState(
    {
      assertionCalls: 0,
      isExpectingAssertions: false,
      isExpectingAssertionsError: null,
      expectedAssertionsNumber: null,
      expectedAssertionsNumberErrorGen: null,
      currentTestName: '',
    } as never,
    expect as never,
  );
  expect.assert = chai.assert;
  // JestExtend's `chai.expect.extend(expect, matchers)` (untyped in @vitest/expect's chai types).
  const chaiExpect = chai.expect as unknown as { extend(target: unknown, matchers: object): void };
  expect.extend = (matchers: object) => chaiExpect.extend(expect, matchers);
  expect.unreachable = (message?: string) => {
    chai.assert.fail(`expected${message ? ` "${message}" ` : ' '}not to be reached`);
  };
  expect.extend(customMatchers);
  return expect;
}

export const expect: Expect = createExpect();
Object.defineProperty(globalThis, GLOBAL_EXPECT, { value: expect, writable: true, configurable: true });

/**
 * Errors nobody awaited (a rejected promise without a handler, an exception thrown from a timer):
 * vitest reports them and fails the run; here they fail the test during which they surfaced, or,
 * outside any test, the file. Without this, Node would end the process at the first one.
 */
const stray: unknown[] = [];
process.on('unhandledRejection', (reason) => void stray.push(reason));
process.on('uncaughtException', (error) => void stray.push(error));

/** vitest.config.ts: testTimeout and hookTimeout. */
const TIMEOUT_MS = 60_000;

type Fn = () => unknown;
type Mode = 'run' | 'skip';

interface TestCase {
  readonly kind: 'test';
  readonly name: string;
  readonly fn: Fn;
  readonly mode: Mode;
  /** `it.fails`: passes when `fn` throws. */
  readonly fails: boolean;
  readonly timeout: number;
}

interface Suite {
  readonly kind: 'suite';
  readonly name: string;
  readonly mode: Mode;
  readonly children: (Suite | TestCase)[];
  readonly beforeAll: Fn[];
  readonly afterAll: Fn[];
  readonly beforeEach: Fn[];
  readonly afterEach: Fn[];
}

function newSuite(name: string, mode: Mode): Suite {
  return {
    kind: 'suite',
    name,
    mode,
    children: [],
    beforeAll: [],
    afterAll: [],
    beforeEach: [],
    afterEach: [],
  };
}

const root = newSuite('', 'run');
let collecting = root;

/** vitest's `%s`-style title formatting of `.each` rows (`%s %d %i %f %j %o %O %%`, `$name` for objects). */
function formatTitle(title: string, row: unknown): string {
  const args = Array.isArray(row) ? [...row] : [row];
  let out = title.replace(/%[sdifjoO%]/g, (token) => {
    if (token === '%%') return '%';
    if (args.length === 0) return token;
    const value = args.shift();
    if (token === '%d' || token === '%i')
      return String(token === '%i' ? Math.trunc(Number(value)) : Number(value));
    if (token === '%f') return String(Number(value));
    if (token === '%s') return typeof value === 'string' ? value : safeJson(value);
    return safeJson(value);
  });
  if (row !== null && typeof row === 'object' && !Array.isArray(row)) {
    out = out.replace(/\$([A-Za-z_]\w*)/g, (m, key: string) =>
      key in (row as object) ? String((row as Record<string, unknown>)[key]) : m,
    );
  }
  return out;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function spread(fn: (...args: unknown[]) => unknown, row: unknown): Fn {
  return () => (Array.isArray(row) ? fn(...row) : fn(row));
}

function addSuite(name: string, body: Fn, mode: Mode): void {
  const parent = collecting;
  const suite = newSuite(name, parent.mode === 'skip' ? 'skip' : mode);
  parent.children.push(suite);
  collecting = suite;
  try {
    const result = body();
    if (result instanceof Promise) {
      throw new Error(`describe('${name}'): async describe bodies are not supported by the device runner`);
    }
  } finally {
    collecting = parent;
  }
}

function addTest(name: string, fn: Fn | undefined, mode: Mode, fails: boolean, timeout?: number): void {
  collecting.children.push({
    kind: 'test',
    name,
    fn: fn ?? (() => {}),
    mode: fn === undefined || collecting.mode === 'skip' ? 'skip' : mode,
    fails,
    timeout: timeout ?? TIMEOUT_MS,
  });
}

type Each<F> = (table: readonly unknown[]) => (name: string, fn: F, timeout?: number) => void;

interface DescribeApi {
  (name: string, body: Fn): void;
  skip: (name: string, body: Fn) => void;
  skipIf: (condition: unknown) => DescribeApi;
  runIf: (condition: unknown) => DescribeApi;
  each: Each<(...args: never[]) => void>;
}

function makeDescribe(mode: Mode): DescribeApi {
  const api = ((name: string, body: Fn) => addSuite(name, body, mode)) as DescribeApi;
  api.skip = (name, body) => addSuite(name, body, 'skip');
  api.skipIf = (condition) => makeDescribe(condition ? 'skip' : mode);
  api.runIf = (condition) => makeDescribe(condition ? mode : 'skip');
  api.each = (table) => (name, fn) => {
    for (const row of table) {
      addSuite(formatTitle(name, row), spread(fn as (...args: unknown[]) => unknown, row), mode);
    }
  };
  return api;
}

interface TestApi {
  (name: string, fn?: Fn, timeout?: number): void;
  skip: (name: string, fn?: Fn) => void;
  skipIf: (condition: unknown) => TestApi;
  runIf: (condition: unknown) => TestApi;
  fails: TestApi;
  each: Each<(...args: never[]) => unknown>;
}

function makeTest(mode: Mode, fails: boolean): TestApi {
  const api = ((name: string, fn?: Fn, timeout?: number) =>
    addTest(name, fn, mode, fails, timeout)) as TestApi;
  api.skip = (name, fn) => addTest(name, fn, 'skip', fails);
  api.skipIf = (condition) => makeTest(condition ? 'skip' : mode, fails);
  api.runIf = (condition) => makeTest(condition ? mode : 'skip', fails);
  Object.defineProperty(api, 'fails', { get: () => makeTest(mode, true) });
  api.each = (table) => (name, fn, timeout) => {
    for (const row of table) {
      addTest(
        formatTitle(name, row),
        spread(fn as (...args: unknown[]) => unknown, row),
        mode,
        fails,
        timeout,
      );
    }
  };
  return api;
}

export const describe = makeDescribe('run');
export const it = makeTest('run', false);
export const test = it;
export const beforeAll = (fn: Fn): void => void collecting.beforeAll.push(fn);
export const afterAll = (fn: Fn): void => void collecting.afterAll.push(fn);
export const beforeEach = (fn: Fn): void => void collecting.beforeEach.push(fn);
export const afterEach = (fn: Fn): void => void collecting.afterEach.push(fn);

async function withTimeout(what: string, fn: Fn, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out in ${ms} ms`)), ms);
  });
  try {
    await Promise.race([Promise.resolve().then(fn), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const head = `${error.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${error.message}`;
    const where = (error.stack ?? '')
      .split('\n')
      .filter((l) => /^\s+at /.test(l))
      .slice(0, 4)
      .join('\n');
    return where ? `${head}\n${where}` : head;
  }
  return String(error);
}

interface Tally {
  passed: number;
  failed: number;
  skipped: number;
  readonly failures: string[];
}

function hasRunnable(suite: Suite): boolean {
  return suite.children.some((c) => (c.kind === 'test' ? c.mode === 'run' : hasRunnable(c)));
}

function report(symbol: string, path: string, detail = ''): void {
  console.log(`  ${symbol} ${path}${detail}`);
}

/** A suite whose beforeAll failed: each of its tests fails with that error. */
function failAll(suite: Suite, path: string[], tally: Tally, reason: string): void {
  for (const c of suite.children) {
    if (c.kind === 'suite') failAll(c, [...path, c.name], tally, reason);
    else {
      tally.failed += 1;
      const title = [...path, c.name].join(' > ');
      tally.failures.push(`${title}: ${reason}`);
      report('×', title, ` (${reason.split('\n')[0]})`);
    }
  }
}

async function runSuite(suite: Suite, path: string[], parents: Suite[], tally: Tally): Promise<void> {
  const chain = [...parents, suite];
  const runnable = hasRunnable(suite);
  if (runnable) {
    for (const hook of suite.beforeAll) {
      try {
        await withTimeout('beforeAll hook', hook, TIMEOUT_MS);
      } catch (error) {
        failAll(suite, path, tally, `beforeAll failed: ${describeError(error)}`);
        return;
      }
    }
  }
  for (const child of suite.children) {
    if (child.kind === 'suite') {
      await runSuite(child, [...path, child.name], chain, tally);
      continue;
    }
    const title = [...path, child.name].join(' > ');
    if (child.mode === 'skip') {
      tally.skipped += 1;
      report('↓', title, ' (skipped)');
      continue;
    }
    const errors: unknown[] = [];
    const started = performance.now();
    const state: { promises?: Promise<unknown>[] } = {};
    current = state;
    try {
      for (const s of chain)
        for (const hook of s.beforeEach) await withTimeout('beforeEach hook', hook, TIMEOUT_MS);
      let thrown: unknown = null;
      try {
        await withTimeout('test', child.fn, child.timeout);
        if (state.promises) await Promise.all(state.promises);
      } catch (error) {
        thrown = error ?? new Error('thrown: undefined');
      }
      if (child.fails && thrown === null)
        errors.push(new Error('expect test to fail (it.fails), but it passed'));
      if (!child.fails && thrown !== null) errors.push(thrown);
    } catch (error) {
      errors.push(error);
    }
    for (const s of [...chain].reverse()) {
      for (const hook of [...s.afterEach].reverse()) {
        try {
          await withTimeout('afterEach hook', hook, TIMEOUT_MS);
        } catch (error) {
          errors.push(error);
        }
      }
    }
    await new Promise((resolve) => setImmediate(resolve)); // let pending rejections surface
    for (const error of stray.splice(0)) errors.push(new Error(`unhandled error: ${describeError(error)}`));
    current = null;
    const ms = (performance.now() - started).toFixed(0);
    if (errors.length === 0) {
      tally.passed += 1;
      report('✓', title, ` ${ms} ms`);
    } else {
      tally.failed += 1;
      const text = errors.map(describeError).join('\n');
      tally.failures.push(`${title}\n${text}`);
      report('×', title, ` ${ms} ms`);
      for (const line of text.split('\n')) console.log(`      ${line}`);
    }
  }
  if (runnable) {
    for (const hook of [...suite.afterAll].reverse()) {
      try {
        await withTimeout('afterAll hook', hook, TIMEOUT_MS);
      } catch (error) {
        tally.failed += 1;
        const title = `${path.join(' > ') || '(file)'} > afterAll`;
        tally.failures.push(`${title}\n${describeError(error)}`);
        report('×', title);
        console.log(`      ${describeError(error)}`);
      }
    }
  }
}

/**
 * Runs what the imported test file collected and prints one line per test, then a vitest-like
 * `Tests  N passed | M failed | K skipped (T)` line; sets a non-zero exit code when any failed.
 */
export async function runCollected(file: string): Promise<void> {
  const started = performance.now();
  const tally: Tally = { passed: 0, failed: 0, skipped: 0, failures: [] };
  console.log(`${file}:`);
  await runSuite(root, [], [], tally);
  await new Promise((resolve) => setImmediate(resolve));
  for (const error of stray.splice(0)) {
    tally.failed += 1;
    tally.failures.push(`unhandled error outside a test: ${describeError(error)}`);
    console.log(`  × unhandled error outside a test: ${describeError(error)}`);
  }
  const parts = [
    tally.passed > 0 ? `${tally.passed} passed` : '',
    tally.failed > 0 ? `${tally.failed} failed` : '',
    tally.skipped > 0 ? `${tally.skipped} skipped` : '',
  ].filter((p) => p !== '');
  const total = tally.passed + tally.failed + tally.skipped;
  console.log(
    `Tests  ${parts.join(' | ') || 'none'} (${total}) in ${file}, ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  if (tally.failed > 0 || total === 0) process.exitCode = 1;
}
