import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSafetensorsFile, type StateDict, saveSafetensorsFile } from '@hpseg/core';

const path = join(mkdtempSync(join(tmpdir(), 'hpseg-')), 'head.safetensors');
const tensors: StateDict = new Map([
  [
    'cluster.weight',
    { dtype: 'float32', storedDtype: 'float32', shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) },
  ],
  ['feature.cache', { dtype: 'float32', storedDtype: 'float16', shape: [2], data: Float32Array.of(0.1, -2) }],
  ['step', { dtype: 'int64', storedDtype: 'int64', shape: [], data: BigInt64Array.of(120n) }],
]);
await saveSafetensorsFile(path, tensors, { epoch: '1' });

const { tensors: back, metadata } = await loadSafetensorsFile(path);
for (const [name, t] of back) {
  console.log(`${name}: ${t.storedDtype} -> ${t.dtype} [${t.shape.join(', ')}] ${t.data.join(' ')}`);
}
console.log(metadata);
