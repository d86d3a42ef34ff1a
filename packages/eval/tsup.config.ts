import { defineConfig } from 'tsup';

export default defineConfig({
  // crf-worker: the dense-CRF worker thread entry, loaded by src/crf/pool.ts as dist/crf-worker.js.
  entry: { index: 'src/index.ts', 'crf-worker': 'src/crf/crf-worker.ts' },
  format: ['esm'],
  dts: { entry: { index: 'src/index.ts' } },
  clean: true,
  sourcemap: true,
  target: 'node20',
});
