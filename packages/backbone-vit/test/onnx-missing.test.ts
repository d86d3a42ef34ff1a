import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importOrt } from '../src/engine-onnx.js';

/** The error Node itself raises for `import('onnxruntime-node')` where the package is not installed. */
function nodeMissingPackageError(): { code: string; message: string } {
  const dir = mkdtempSync(join(tmpdir(), 'hpseg-no-ort-'));
  writeFileSync(join(dir, 'probe.mjs'), "await import('onnxruntime-node');\n");
  const script =
    "import('./probe.mjs').catch((e) => { console.log(JSON.stringify({ code: e.code, message: e.message })); });";
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: dir,
    encoding: 'utf8',
  });
  return JSON.parse(r.stdout) as { code: string; message: string };
}

describe('onnx engine without onnxruntime-node (an optional peer)', () => {
  it('says how to install it: E_BACKEND with `npm install onnxruntime-node`', async () => {
    const raw = nodeMissingPackageError();
    expect(raw.code).toBe('ERR_MODULE_NOT_FOUND');
    const load = () => Promise.reject(Object.assign(new Error(raw.message), { code: raw.code }));
    const error = await importOrt(load).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'HpError', code: 'E_BACKEND', hint: 'npm install onnxruntime-node' });
    expect((error as Error).message).toContain('expected the package onnxruntime-node');
    expect((error as Error).message).toContain('`npm install onnxruntime-node`');
    expect((error as Error).message).toContain("{ engine: 'tfjs' }");
  });

  it('a load failure of an installed onnxruntime-node is reported as such, with its message', async () => {
    const load = () => Promise.reject(new Error('libonnxruntime.so.1: cannot open shared object file'));
    const error = await importOrt(load).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'HpError', code: 'E_BACKEND' });
    expect((error as Error).message).toContain('expected onnxruntime-node to load, got libonnxruntime.so.1');
  });

  it('loads the installed package by default', async () => {
    const ort = await importOrt();
    expect(typeof ort.InferenceSession.create).toBe('function');
  });
});
