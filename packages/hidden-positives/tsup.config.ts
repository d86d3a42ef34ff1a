import { defineConfig } from 'tsup';

export default defineConfig({
  // fused-worker: the worker-thread entry of the fused loss engine's pool, loaded as dist/fused-worker.js.
  entry: { index: 'src/index.ts', 'fused-worker': 'src/fused/fused-worker.ts' },
  format: ['esm'],
  dts: { entry: { index: 'src/index.ts' } },
  clean: true,
  sourcemap: true,
  target: 'node20',
});
