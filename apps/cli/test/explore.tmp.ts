import { register } from 'node:module';

register(new URL('../bin/tfjs-esm-hook.mjs', import.meta.url));
const { selectBackend } = await import('@hpseg/core');
const { syntheticDataset } = await import('@hpseg/datasets');
const { kmeansBaseline, featureFn } = await import('../src/baseline.js');
const { loadInferenceModel } = await import('../src/model-loader.js');
const { openBackbone } = await import('../src/backbone.js');
const { SYNTHETIC_VIT } = await import('../src/config.js');

await selectBackend('wasm');
const m = await loadInferenceModel(process.argv[2]!, { engine: 'onnx' });
const k = Number(process.argv[3] ?? 8);
const train = syntheticDataset({ seed: 1, length: 64, size: 64, numClasses: k });
const val = syntheticDataset({ seed: 2, length: 32, size: 64, numClasses: k });
for (const [name, f] of [
  ['raw', featureFn(m.backbone)],
  ['hp', featureFn(m.backbone, m.head)],
] as const) {
  const r = await kmeansBaseline(f, train, val, { resolution: 64, fitImages: 64, seed: 0, keep: 0 });
  console.log(
    `${name} K=${k} kmeans mIoU ${(100 * r.metrics.mIoU).toFixed(1)} acc ${(100 * r.metrics.accuracy).toFixed(1)}`,
  );
}
await m.dispose();
