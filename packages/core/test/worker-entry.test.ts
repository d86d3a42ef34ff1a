import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveWorkerEntry } from '../src/index.js';

describe('resolveWorkerEntry', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hpseg-worker-entry-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const moduleUrl = pathToFileURL(join(dir, 'pool.js')).href;
  const options = {
    fn: 'testPool',
    moduleUrl,
    built: ['./w.js', './sub/w.js'],
    source: './w.ts',
    packageName: '@hpseg/test',
  };

  it('neither the built file nor the source → E_NOT_FOUND naming the file and the package', () => {
    expect(() => resolveWorkerEntry(options)).toThrow(
      expect.objectContaining({
        code: 'E_NOT_FOUND',
        message: expect.stringMatching(/^testPool: .*expected \.\/w\.js next to .*Rebuild @hpseg\/test/),
      }),
    );
  });

  it('only the source, where tsx cannot be resolved → E_NOT_FOUND naming tsx', () => {
    writeFileSync(join(dir, 'w.ts'), 'export {};\n');
    expect(() => resolveWorkerEntry(options)).toThrow(
      expect.objectContaining({
        code: 'E_NOT_FOUND',
        message: expect.stringContaining(
          'expected the tsx package, got none. Build @hpseg/test or install tsx',
        ),
      }),
    );
  });

  it('a built file wins over the source, in the order given', () => {
    writeFileSync(join(dir, 'w.js'), 'export {};\n');
    const spec = resolveWorkerEntry(options);
    expect(spec).toEqual({ entry: new URL('./w.js', moduleUrl), eval: false });
  });

  it('a source worker resolves workspace packages to their TypeScript sources', async () => {
    const spec = resolveWorkerEntry({
      ...options,
      moduleUrl: new URL('./fixtures/', import.meta.url).href,
      built: [],
      source: './source-worker-probe.ts',
    });
    expect(spec.eval).toBe(true);
    expect(spec.entry).toContain('api.register()');
    expect(spec.execArgv!.filter((a) => a === '--conditions=@hpseg/source')).toHaveLength(1);
    const worker = new Worker(spec.entry, { eval: spec.eval, execArgv: spec.execArgv! });
    const message = await new Promise<unknown>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(message).toMatch(/\/packages\/core\/src\/index\.ts HpError$/);
  });
});
