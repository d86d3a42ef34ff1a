import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/*
 * No synchronous tensor reads on paths that can run on WebGPU (issue #13). On the webgpu backend
 * `dataSync()`, `arraySync()` and `bufferSync()` of a tensor that lives on the GPU stall the
 * pipeline, and in Node they fail outright (tfjs-backend-webgpu reads synchronously through
 * OffscreenCanvas; @hpseg/core turns that into an E_BACKEND naming the async read). Every such call
 * in packages/<name>/src and apps/<name>/src must be listed below, with its reason.
 */

const ROOT = join(import.meta.dirname, '..', '..', '..');

interface SyncRead {
  /** Path from the repository root. */
  readonly file: string;
  /** The source line, trimmed (the key: it survives lines moving, not the line changing). */
  readonly line: string;
  readonly why: string;
}

/** Synchronous on purpose: these run only on CPU backends, never on webgpu. */
const ALLOWED: readonly SyncRead[] = [
  {
    file: 'packages/backbone-vit/src/row-exchange.ts',
    line: 'data.set(k[head]!.dataSync() as Float32Array, area(parity, 0, head) + o.start * o.headDim);',
    why: "tfjs engine with workers: each worker thread selects its own wasm backend (tfjs-worker.ts: selectBackend('wasm')) and exchanges keys through shared memory inside a synchronous forward",
  },
  {
    file: 'packages/backbone-vit/src/row-exchange.ts',
    line: 'data.set(v[head]!.dataSync() as Float32Array, area(parity, 1, head) + o.start * o.headDim);',
    why: 'as above (values)',
  },
  ...[
    'return t.dataSync() as Float32Array;',
    'keep = { values: inputs.negativeMask.dataSync() as ArrayLike<number> };',
    'z: z.dataSync() as Float32Array,',
    'zMix: zMix.dataSync() as Float32Array,',
  ].map((line) => ({
    file: 'packages/hidden-positives/src/fused/tensors.ts',
    line,
    why: "the fused HP-loss engine copies its inputs to its WebAssembly memory; `engine: 'auto'` picks it only on the wasm and cpu backends (HOST_BACKENDS), where tensors already live in host memory",
  })),
  {
    file: 'packages/core/src/host-matmul.ts',
    line: 'return t.dataSync() as Float32Array;',
    why: 'hostValues serves the host engines (hostMatMul2d through activeHostMatMul(), the fused LHP mix), which run only on the wasm and cpu backends, where tensors already live in host memory',
  },
  {
    file: 'packages/hidden-positives/src/local-positives.ts',
    line: 'const wv = wts.dataSync() as Float32Array; // a copy: the gradient uses it after other ops ran',
    why: "the fused (host) path of mixLocalPositives, chosen by `engine: 'auto'` only on the wasm and cpu backends",
  },
  {
    file: 'packages/hidden-positives/src/local-positives.ts',
    line: 'attentionLogits.dataSync() as ArrayLike<number>,',
    why: "the fused (host) path of localPositiveWeights, chosen by `engine: 'auto'` only on the wasm and cpu backends",
  },
  {
    file: 'packages/eval/src/labels.ts',
    line: 'const values = input.dataSync() as Int32Array | Float32Array | Uint8Array;',
    why: "a convenience of the metrics' label input for CPU tensors; hpseg's pipeline passes host arrays (`@hpseg/train` reads predictions with `await data()`), and a GPU tensor here fails with E_BACKEND naming `await t.data()`",
  },
];

/**
 * Synchronous reads on paths that can run on webgpu, still to be made asynchronous (issue #13).
 * Listed so that this check passes meanwhile and no new one slips in. When one is removed, this
 * test fails with "no longer found": delete its entry here.
 */
const PENDING: readonly SyncRead[] = [];

const SYNC_READ = /\.(dataSync|arraySync|bufferSync)\s*\(/;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|mts|js|mjs)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Every source file under packages/<name>/src and apps/<name>/src. */
function workspaceSources(): string[] {
  const out: string[] = [];
  for (const group of ['packages', 'apps']) {
    for (const name of readdirSync(join(ROOT, group)).sort()) {
      const src = join(ROOT, group, name, 'src');
      try {
        if (statSync(src).isDirectory()) out.push(...sourceFiles(src));
      } catch {
        // a package without src/
      }
    }
  }
  return out;
}

/** Removes block comments and `//` line comments (not `://` inside URLs), keeping the line count. */
function stripComments(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' '))
    .split('\n')
    .map((l) => l.replace(/(^|[^:'"`])\/\/.*$/, '$1'))
    .join('\n');
}

/** Every synchronous read in the workspace sources: file, line number and trimmed line. */
function findSyncReads(): { file: string; lineNumber: number; line: string }[] {
  const found: { file: string; lineNumber: number; line: string }[] = [];
  for (const path of workspaceSources()) {
    const original = readFileSync(path, 'utf8').split('\n');
    stripComments(original.join('\n'))
      .split('\n')
      .forEach((code, i) => {
        if (SYNC_READ.test(code)) {
          found.push({ file: relative(ROOT, path), lineNumber: i + 1, line: original[i]!.trim() });
        }
      });
  }
  return found;
}

const key = (r: { file: string; line: string }) => `${r.file}: ${r.line}`;

describe('no synchronous tensor reads on paths that can run on webgpu', () => {
  it('finds the calls it is meant to find (and not those in comments or property checks)', () => {
    const code = [
      'const a = t.dataSync();',
      'const b = await t.data(); // not t.dataSync()',
      "if (typeof x.dataSync === 'function') {}",
      '/* t.arraySync() */ const c = t.bufferSync ();',
      "const url = 'https://example.org'; const d = x.arraySync();",
    ].join('\n');
    const hits = stripComments(code)
      .split('\n')
      .map((l, i) => (SYNC_READ.test(l) ? i + 1 : 0))
      .filter((i) => i > 0);
    expect(hits).toEqual([1, 4, 5]);
  });

  it('every synchronous read in packages/*/src and apps/*/src is allowed (CPU-only) or pending removal', () => {
    const found = findSyncReads();
    const listed = new Map<string, number>();
    for (const r of [...ALLOWED, ...PENDING]) listed.set(key(r), (listed.get(key(r)) ?? 0) + 1);
    const unlisted = found.filter((r) => {
      const n = listed.get(key(r)) ?? 0;
      if (n === 0) return true;
      listed.set(key(r), n - 1);
      return false;
    });
    const stale = [...listed.entries()].filter(([, n]) => n > 0).map(([k]) => k);
    const lines = [
      ...unlisted.map(
        (r) =>
          `new synchronous read at ${r.file}:${r.lineNumber}: ${r.line} (use await data()/array()/buffer(); if it only ever runs on a CPU backend, add it to ALLOWED with the reason)`,
      ),
      ...stale.map((k) => `no longer found (delete its entry in tools/checks/test/sync-reads.test.ts): ${k}`),
    ];
    expect(lines, lines.join('\n')).toEqual([]);
  });

  it('each listed place gives its reason', () => {
    for (const r of [...ALLOWED, ...PENDING]) expect(r.why.length).toBeGreaterThan(10);
  });
});
