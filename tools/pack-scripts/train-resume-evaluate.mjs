// Issue #11's acceptance script, from the packed tarballs in plain Node (no tsx, no workspace): trains HP
// for 20 steps on the synthetic dataset through @hpseg/train (stopping at 10 and resuming), evaluates the
// result, and checks that `hpseg train` with the same seed prints the same 20 losses, to the bit.
// pack-test install: @hpseg/train @hpseg/core @hpseg/cli @tensorflow/tfjs-core @tensorflow/tfjs-backend-wasm
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selectBackend } from '@hpseg/core';
import {
  evaluate,
  loadInferenceModel,
  openDataset,
  openRun,
  resolveRunConfig,
  resumeRun,
  runPaths,
  SYNTHETIC_VIT,
  syntheticSpecs,
} from '@hpseg/train';
import * as tf from '@tensorflow/tfjs-core';

const SEED = 3;
const ITERATIONS = 20;
const dir = mkdtempSync(join(tmpdir(), 'hpseg-train-pack-'));
const fail = (message) => {
  console.error(`train-resume-evaluate: ${message}`);
  process.exit(1);
};

if (tf.getGradient('Sum') !== undefined) fail('tfjs-core alone already had gradients');
await import('@hpseg/train/register-gradients'); // the one import a user of trainStep needs
if (tf.getGradient('Sum') === undefined || tf.getGradient('BatchMatMul') === undefined) {
  fail('@hpseg/train/register-gradients registered no gradients');
}

try {
  await selectBackend('wasm');
  const specs = syntheticSpecs(SEED); // what `hpseg train --preset synthetic --seed 3` uses
  const spec = {
    config: resolveRunConfig('synthetic'),
    preset: 'synthetic',
    backbone: { kind: 'random', config: { ...SYNTHETIC_VIT }, seed: SEED },
    dataset: specs.train,
    validation: specs.val,
    seed: SEED,
    iterations: ITERATIONS,
  };
  const outDir = join(dir, 'library');
  const losses = [];
  const onEvent = (e) => {
    if (e.type === 'step') losses.push(e.result.total);
  };
  const first = await openRun(spec, outDir, { backbone: { engine: 'onnx' }, stopAt: 10, onEvent });
  const stopped = await first.trainer.run();
  await first.dispose();
  if (stopped.status !== 'stopped' || stopped.iteration !== 10)
    fail(`expected a stop at 10, got ${stopped.status} at ${stopped.iteration}`);
  const second = await resumeRun(outDir, { onEvent });
  const done = await second.trainer.run();
  await second.dispose();
  if (done.status !== 'completed' || done.iteration !== ITERATIONS)
    fail(`expected completion at ${ITERATIONS}, got ${done.status} at ${done.iteration}`);
  console.log(
    `library: trained ${losses.length} steps (stopped at 10, resumed), last loss ${losses.at(-1).toFixed(6)}`,
  );
  // onnxruntime-node comes with @hpseg/cli: the heads' products ran on it, through its native binding
  const { matmulEngine } = JSON.parse(readFileSync(join(outDir, 'config.json'), 'utf8'));
  if (!/^onnxruntime \(\d+ threads?\)$/.test(matmulEngine))
    fail(`expected the heads' products on ONNX Runtime, got matmulEngine ${JSON.stringify(matmulEngine)}`);
  console.log(`library: heads' matrix products on ${matmulEngine}`);

  const model = await loadInferenceModel(runPaths(outDir).last);
  const metrics = await evaluate(model, await openDataset(specs.val, 'val'), {
    resolution: 64,
    batchSize: 8,
  });
  await model.dispose();
  console.log(
    `library: evaluated ${metrics.images} validation images: cluster mIoU ${(100 * metrics.cluster.mIoU).toFixed(2)}, linear mIoU ${(100 * metrics.linear.mIoU).toFixed(2)}`,
  );

  const cli = spawnSync(
    process.execPath,
    [
      join('node_modules', '@hpseg', 'cli', 'bin', 'hpseg.js'),
      'train',
      '--preset',
      'synthetic',
      '--seed',
      String(SEED),
      '--iterations',
      String(ITERATIONS),
      '--backend',
      'wasm',
      '--out',
      join(dir, 'cli'),
      '--json',
    ],
    { encoding: 'utf8' },
  );
  if (cli.status !== 0) fail(`hpseg train exited with ${cli.status}:\n${cli.stderr}`);
  const printed = JSON.parse(cli.stdout).losses;
  if (printed.length !== losses.length || printed.some((l, i) => l !== losses[i])) {
    fail(`hpseg train printed other losses:\n  library ${losses.join(' ')}\n  hpseg   ${printed.join(' ')}`);
  }
  console.log(`hpseg train --seed ${SEED}: the same ${printed.length} losses, bit for bit`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
