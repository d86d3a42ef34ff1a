/**
 * Times loadPthFile on a ViT-B/16-sized checkpoint (random weights, official key names and shapes,
 * ~343 MB), made once with /usr/bin/python3 + torch into the OS temp folder.
 * Run: npm run bench -w @hpseg/core
 */
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, loadPthFile, readSafetensors, toStateDict, writeSafetensors } from '../src/index.js';

const path = join(tmpdir(), 'hpseg-core-bench-vitb16.pth');
if (!existsSync(path)) {
  console.log(`writing ${path} with /usr/bin/python3 (torch) ...`);
  execFileSync('/usr/bin/python3', [join(import.meta.dirname, 'make_vitb16.py'), path], { stdio: 'inherit' });
}
const mb = statSync(path).size / 2 ** 20;
const ms = (t0: number): string => (performance.now() - t0).toFixed(0);

let t0 = performance.now();
const value = await loadPthFile(path);
const sd = toStateDict(value);
let n = 0;
for (const t of sd.values()) n += t.data.length;
console.log(
  `loadPthFile: ${mb.toFixed(0)} MB, ${sd.size} tensors, ${(n / 1e6).toFixed(1)} M values in ${ms(t0)} ms`,
);
console.log(`peak RSS so far: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);

const big = sd.get('blocks.0.mlp.fc1.weight')!.data as Float32Array;
const bytes = new Uint8Array(big.buffer, big.byteOffset, big.byteLength);
t0 = performance.now();
crc32(bytes);
console.log(`crc32: ${(bytes.length / 2 ** 20).toFixed(1)} MB in ${ms(t0)} ms`);

t0 = performance.now();
const st = writeSafetensors(sd);
console.log(`writeSafetensors: ${(st.length / 2 ** 20).toFixed(0)} MB in ${ms(t0)} ms`);
t0 = performance.now();
readSafetensors(st);
console.log(`readSafetensors: ${ms(t0)} ms`);
