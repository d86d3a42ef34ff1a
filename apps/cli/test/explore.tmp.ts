import { register } from 'node:module';

register(new URL('../bin/tfjs-esm-hook.mjs', import.meta.url));
const { selectBackend } = await import('@hpseg/core');
const { syntheticDataset } = await import('@hpseg/datasets');
const { kmeansBaseline } = await import('../src/baseline.js');
const { openBackbone } = await import('../src/backbone.js');
const { SYNTHETIC_VIT } = await import('../src/config.js');

await selectBackend('wasm');
const backbone = await openBackbone({ kind: 'random', config: SYNTHETIC_VIT, seed: 0 }, 'onnx');
for (const k of [4, 6, 8, 12]) {
  for (const size of [64]) {
    const train = syntheticDataset({ seed: 1, length: 64, size, numClasses: k });
    const val = syntheticDataset({ seed: 2, length: 32, size, numClasses: k });
    const r = await kmeansBaseline(backbone, train, val, {
      resolution: size,
      fitImages: 64,
      seed: 0,
      keep: 0,
    });
    console.log(
      `K=${k} size=${size} baseline mIoU ${(100 * r.metrics.mIoU).toFixed(1)} acc ${(100 * r.metrics.accuracy).toFixed(1)}`,
    );
  }
}
await backbone.dispose();
