import { copyFile, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backbone } from '@hpseg/backbone-vit';
import { installedHostMatMul, loadSafetensorsFile, saveSafetensorsFile, selectBackend } from '@hpseg/core';
import type { Dataset } from '@hpseg/datasets';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTrainer,
  evaluate,
  loadRunCheckpoint,
  openBackbone,
  openDataset,
  resolveRunConfig,
  resumeRun,
  runPaths,
  SYNTHETIC_VIT,
  syntheticSpecs,
  type TrainEvent,
  train,
} from '../src/index.js';

let dir: string;
let backbone: Backbone;
let data: Dataset;
let validation: Dataset;
/** A tiny run: batches of 4 images of 64 px, the synthetic preset's random ViT, pools of 16 rows, D = 16. */
const config = resolveRunConfig('synthetic', {
  model: { poolSize: 16, dim: 16 },
  dataloader: { batchSize: 4 },
  train: { validFreq: 2 },
});

beforeAll(async () => {
  await selectBackend('wasm');
  dir = await mkdtemp(join(tmpdir(), 'hpseg-train-'));
  backbone = await openBackbone(
    { kind: 'random', config: { ...SYNTHETIC_VIT }, seed: 3 },
    { engine: 'onnx' },
  );
  const specs = syntheticSpecs(3, { length: 16, valLength: 4 });
  data = await openDataset(specs.train, 'train');
  validation = await openDataset(specs.val, 'val');
});
afterAll(async () => {
  await backbone?.dispose();
  await rm(dir, { recursive: true, force: true });
});

const run = (outDir: string | undefined, extra: Partial<Parameters<typeof createTrainer>[1]> = {}) =>
  createTrainer(config, {
    backbone,
    data,
    validation,
    seed: 5,
    iterations: 5,
    validationOptions: { resolution: 64 },
    ...(outDir ? { outDir } : {}),
    ...extra,
  });

describe('Trainer (synthetic data, random ViT)', () => {
  it('emits start, pools, steps, validations and checkpoints in order, writes the run folder, frees its tensors', async () => {
    const events: TrainEvent[] = [];
    const outDir = join(dir, 'full');
    const baseline = tf.memory().numTensors;
    const trainer = await run(outDir, { onEvent: (e) => void events.push(e), selectBest: true });
    const outcome = await trainer.run();
    expect(outcome.status).toBe('completed');
    expect(outcome.iteration).toBe(5);
    expect(outcome.losses).toHaveLength(5);
    for (const l of outcome.losses) expect(Number.isFinite(l.total) && l.applied).toBe(true);
    // 16 images / batch 4 = 4 batches per epoch, validFreq 2: validation after batches 1 and 3 and at the end (t = 4)
    const names = events.map((e) => (e.type === 'checkpoint' ? `checkpoint:${e.kind}` : e.type));
    // `best` is written right after a validation whose score is at least the best so far (always the first)
    names.forEach((n, i) => {
      if (n === 'checkpoint:best') expect(names[i - 1]).toBe('validation');
    });
    expect(names[names.indexOf('validation') + 1]).toBe('checkpoint:best');
    expect(names.filter((n) => n !== 'checkpoint:best')).toEqual([
      'start',
      'pools',
      'step',
      'step',
      'validation',
      'checkpoint:last',
      'step',
      'step',
      'validation',
      'checkpoint:last',
      'step',
      'validation',
      'checkpoint:last',
      'end',
    ]);
    const steps = events.filter((e) => e.type === 'step');
    expect(steps.map((e) => [e.iteration, e.epoch, e.batch])).toEqual([
      [0, 0, 0],
      [1, 0, 1],
      [2, 0, 2],
      [3, 0, 3],
      [4, 1, 0],
    ]);
    const saved = await loadRunCheckpoint(runPaths(outDir).last);
    expect(saved.meta.iteration).toBe(5);
    expect(saved.meta.pools?.agnostic.filled).toBe(16);
    expect([...saved.tensors.keys()].filter((k) => !k.startsWith('optimizer.'))).toEqual([
      'head.cluster1.0.weight',
      'head.cluster1.0.bias',
      'head.cluster2.0.weight',
      'head.cluster2.0.bias',
      'head.cluster2.2.weight',
      'head.cluster2.2.bias',
      'momentumHead.cluster1.0.weight',
      'momentumHead.cluster1.0.bias',
      'momentumHead.cluster2.0.weight',
      'momentumHead.cluster2.0.bias',
      'momentumHead.cluster2.2.weight',
      'momentumHead.cluster2.2.bias',
      'linearProbe.weight',
      'linearProbe.bias',
      'clusterProbe.clusters',
      'projectionHead.weight',
      'projectionHead.bias',
      'referencePool.agnostic',
      'referencePool.specific',
    ]);
    expect(saved.tensors.get('optimizer.head.cluster1.0.weight.step')?.data[0]).toBe(5);
    const runConfig = JSON.parse(await readFile(runPaths(outDir).config, 'utf8'));
    expect(runConfig.config.model.poolSize).toBe(16);
    expect(runConfig.seed).toBe(5);
    expect(runConfig.versions['@hpseg/train']).toBe('0.1.0');
    // wasm with onnxruntime-node installed: the heads' products ran on ONNX Runtime, and the run says so
    expect(runConfig.matmulEngine).toMatch(/^onnxruntime \(\d+ threads?\)$/);
    const start = events.find((e) => e.type === 'start');
    expect(start?.type === 'start' && start.matmulEngine).toBe(runConfig.matmulEngine);
    expect(installedHostMatMul(), 'the run restores the previous host product when it ends').toBeUndefined();
    expect((await stat(runPaths(outDir).best)).size).toBeGreaterThan(1000);
    await expect(trainer.run()).rejects.toMatchObject({ code: 'E_ARG' });
    await trainer.dispose();
    expect(tf.memory().numTensors).toBe(baseline);
  });

  it('stopAt, then resume: every later loss and every weight bit-identical to the uninterrupted run', async () => {
    const outDir = join(dir, 'resumed');
    const first = await run(outDir, { stopAt: 3 });
    const stopped = await first.run();
    expect(stopped.status).toBe('stopped');
    expect(stopped.iteration).toBe(3);
    await first.dispose();
    const second = await run(outDir, { resume: true });
    expect(second.resumed).toBe(true);
    expect(second.state.iteration).toBe(3);
    const rest = await second.run();
    const full = await run(undefined);
    const whole = await full.run();
    expect(whole.lastCheckpoint).toBeNull();
    expect([...stopped.losses, ...rest.losses].map((l) => l.total)).toEqual(whole.losses.map((l) => l.total));
    for (const m of ['head', 'momentumHead', 'projectionHead', 'linearProbe', 'clusterProbe'] as const) {
      const a = second.models[m].params as Record<string, tf.Tensor>;
      const b = full.models[m].params as Record<string, tf.Tensor>;
      for (const k of Object.keys(a))
        expect(Array.from(a[k]!.dataSync()), `${m}.${k}`).toEqual(Array.from(b[k]!.dataSync()));
    }
    const pa = second.state.pools!.specific.getState().rows;
    const pb = full.state.pools!.specific.getState().rows;
    expect(Array.from(pa)).toEqual(Array.from(pb));
    await second.dispose();
    await full.dispose();
  });

  it('refuses to resume with another config or seed, and without the projection head (no random weights)', async () => {
    const outDir = join(dir, 'resumed');
    const other = resolveRunConfig('synthetic', {
      model: { poolSize: 16, dim: 16 },
      dataloader: { batchSize: 4 },
      temperature: 0.5,
    });
    await expect(createTrainer(other, { backbone, data, outDir, resume: true })).rejects.toMatchObject({
      code: 'E_CONFIG',
      message: expect.stringContaining('temperature: checkpoint 0.8, given 0.5'),
    });
    await expect(run(outDir, { resume: true, seed: 6 })).rejects.toMatchObject({
      code: 'E_CONFIG',
      message: expect.stringContaining('expected 5'),
    });
    const content = await loadSafetensorsFile(runPaths(outDir).last);
    content.tensors.delete('projectionHead.weight');
    content.tensors.delete('projectionHead.bias');
    const broken = join(dir, 'no-projection');
    await mkdir(join(broken, 'checkpoints'), { recursive: true });
    await saveSafetensorsFile(runPaths(broken).last, content.tensors, content.metadata);
    const before = tf.memory().numTensors;
    await expect(run(broken, { resume: true })).rejects.toMatchObject({
      code: 'E_CHECKPOINT',
      message: expect.stringContaining('missing [projectionHead.weight, projectionHead.bias]'),
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('train(): an in-memory run whose models can be evaluated, then disposed', async () => {
    const result = await train(config, { backbone, data, seed: 1, iterations: 2 });
    expect(result.status).toBe('completed');
    const metrics = await evaluate(
      {
        backbone,
        head: result.models.head,
        linearProbe: result.models.linearProbe,
        clusterProbe: result.models.clusterProbe,
      },
      validation,
      { resolution: 64, batchSize: 4 },
    );
    expect(metrics.images).toBe(4);
    expect(metrics.cluster.mIoU).toBeGreaterThanOrEqual(0);
    await result.dispose();
  });
});

describe('runs of earlier releases (checkpoint format 1)', () => {
  it('a format-1 last.safetensors loads with the new key names and resumes to the loss the old code computed', async () => {
    const outDir = join(dir, 'legacy');
    await mkdir(join(outDir, 'checkpoints'), { recursive: true });
    await copyFile(new URL('./fixtures/legacy-v1-last.safetensors', import.meta.url), runPaths(outDir).last);
    const legacy = await loadRunCheckpoint(runPaths(outDir).last);
    expect(legacy.meta.format).toBe('hpseg-checkpoint/2');
    expect(legacy.meta.iteration).toBe(2);
    expect(legacy.tensors.has('momentumHead.cluster1.0.weight')).toBe(true);
    expect(legacy.tensors.has('optimizer.clusterProbe.clusters.exp_avg')).toBe(true);
    expect(legacy.tensors.has('ema.cluster1.0.weight')).toBe(false);
    // The TF.js loss engine with the heads' products on tf.matMul reproduces the previous release's numbers
    // to the bit; the defaults on wasm (fused loss, ONNX Runtime products) equal them within float32
    // rounding (issue #12's exactness rule).
    const fusedDir = join(dir, 'legacy-fused');
    await mkdir(join(fusedDir, 'checkpoints'), { recursive: true });
    await copyFile(runPaths(outDir).last, runPaths(fusedDir).last);
    const old = [
      61.55024574697018, 60.209625244140625, 1.5527528524398804, -0.21213234961032867, 7.425727367401123,
    ];
    for (const [folder, lossEngine] of [
      [outDir, 'tfjs'],
      [fusedDir, 'auto'],
    ] as const) {
      const opened = await resumeRun(
        folder,
        lossEngine === 'tfjs' ? { lossEngine, matmulEngine: 'tfjs' } : { lossEngine },
      );
      try {
        const outcome = await opened.trainer.run();
        expect(outcome.losses).toHaveLength(1);
        const r = outcome.losses[0]!;
        const got = [r.total, r.hp, r.linear, r.cluster, r.headGradNorm];
        // What `hpseg train --resume` of the previous release printed for this very file (fixtures/README.md).
        if (lossEngine === 'tfjs') expect(got).toEqual(old);
        else {
          for (const [i, v] of got.entries()) {
            expect(Math.abs(v - old[i]!)).toBeLessThanOrEqual(1e-6 * Math.abs(old[i]!));
          }
        }
      } finally {
        await opened.dispose();
      }
    }
  });
});
