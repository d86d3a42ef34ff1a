import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../src/run.js';
import { captureIo } from './helpers.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hpseg-cli-demo-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('hpseg demo (smoke: 3 iterations, the full demo runs 300)', () => {
  it('prints a JSON summary with both mIoU values, writes the PNGs and says real results need DINO', {
    timeout: 120_000,
  }, async () => {
    const io = captureIo();
    const code = await run(
      ['demo', '--out', dir, '--iterations', '3', '--classes', '4', '--backend', 'wasm', '--json'],
      io,
    );
    expect(io.err()).not.toContain('hpseg: E_');
    expect(code).toBe(0);
    expect(io.err()).toContain('Real results need DINO weights');
    const summary = JSON.parse(io.out());
    expect(summary.iterations).toBe(3);
    for (const v of [
      summary.baseline.mIoU,
      summary.hp.kmeansMIoU,
      summary.hp.clusterMIoU,
      summary.hp.linearMIoU,
    ]) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }
    expect(typeof summary.hpBeatsBaseline).toBe('boolean');
    expect(summary.pngs).toHaveLength(4);
    for (const p of summary.pngs) expect((await stat(p)).size).toBeGreaterThan(100);
  });
});
