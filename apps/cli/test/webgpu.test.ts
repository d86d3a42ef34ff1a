import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webgpuSkipReason } from '../../../tools/test/webgpu-available.js';
import { run } from '../src/run.js';
import { captureIo } from './helpers.js';

// Issue #13: training, evaluation and segmentation end to end on the webgpu backend (Mesa's software
// adapter in CI; .ci/run installs it and sets HPSEG_REQUIRE_WEBGPU=1, so a missing adapter fails there).
const skip = await webgpuSkipReason();

const FIXTURE = join(import.meta.dirname, 'fixtures', 'hp_ckpt');
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hpseg-cli-webgpu-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function evalJson(
  backend: string,
): Promise<{ cluster: { metrics: { mIoU: number } }; linear: { metrics: { mIoU: number } } }> {
  const io = captureIo();
  const argv = [
    'eval',
    '--checkpoint',
    join(FIXTURE, 'ckpt.pth'),
    '--preset',
    'folder',
    '--data-dir',
    FIXTURE,
  ];
  const code = await run(
    [
      ...argv,
      '--resolution',
      '48',
      '--vit-heads',
      '4',
      '--engine',
      'tfjs',
      '--backend',
      backend,
      '--json',
      '--out',
      join(dir, `${backend}.json`),
    ],
    io,
  );
  expect(io.err()).not.toContain('hpseg: E_');
  expect(code).toBe(0);
  return JSON.parse(io.out());
}

describe.skipIf(skip !== null)('hpseg on --backend webgpu', () => {
  it('demo: trains, evaluates and writes its PNGs with the head, the losses and the probes on webgpu', {
    timeout: 300_000,
  }, async () => {
    const io = captureIo();
    const code = await run(
      [
        'demo',
        '--out',
        join(dir, 'demo'),
        '--iterations',
        '3',
        '--classes',
        '4',
        '--backend',
        'webgpu',
        '--engine',
        'tfjs',
        '--json',
      ],
      io,
    );
    expect(io.err()).not.toContain('hpseg: E_');
    expect(code).toBe(0);
    expect(io.err()).toContain('TF.js backend: webgpu on');
    expect(io.err()).toContain('HP loss engine: tfjs'); // auto: the fused host engine only on wasm / cpu
    const summary = JSON.parse(io.out());
    expect([summary.backend, summary.iterations]).toEqual(['webgpu', 3]);
    for (const l of [summary.firstLoss, summary.lastLoss]) expect(Number.isFinite(l)).toBe(true);
    expect(summary.pngs).toHaveLength(4);
  });

  it('eval of an official HP checkpoint gives the metrics of the cpu backend; segment writes its labels', {
    timeout: 300_000,
  }, async () => {
    const gpu = await evalJson('webgpu');
    const cpu = await evalJson('cpu');
    expect(gpu.cluster.metrics.mIoU).toBeGreaterThan(0);
    expect(gpu.cluster.metrics.mIoU).toBeCloseTo(cpu.cluster.metrics.mIoU, 6);
    expect(gpu.linear.metrics.mIoU).toBeCloseTo(cpu.linear.metrics.mIoU, 6);
    const io = captureIo();
    const code = await run(
      [
        'segment',
        join(FIXTURE, 'images', 'img0.png'),
        '--checkpoint',
        join(FIXTURE, 'ckpt.pth'),
        '--out',
        join(dir, 'seg'),
        '--vit-heads',
        '4',
        '--engine',
        'tfjs',
        '--backend',
        'webgpu',
      ],
      io,
    );
    expect(io.err()).not.toContain('hpseg: E_');
    expect(code).toBe(0);
    expect(io.out()).toContain('img0.labels.png');
  });
});

if (skip !== null) it.skip(`webgpu CLI tests: skipped (${skip})`, () => {});
