/**
 * Benchmarks of @hpseg/eval (prints numbers, asserts nothing):
 *  - ConfusionMatrix.update over 2,175 x 320 x 320 pixels (COCO-Stuff-27 val, one pass), target < 2 s;
 *  - Hungarian matching 27x27 (target < 1 ms) and 171x171 (target < 50 ms), median of repeats.
 * Run: npm run bench -w @hpseg/eval
 */
import { computeMetrics, createConfusionMatrix, maximumAssignment } from '../src/index.js';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** A confusion-like matrix: a permuted diagonal of large counts plus noise. */
function structuredCounts(k: number, rand: () => number): Float64Array {
  const perm = Array.from({ length: k }, (_, i) => i).sort(() => rand() - 0.5);
  const out = new Float64Array(k * k);
  for (let r = 0; r < k; r++) {
    for (let c = 0; c < k; c++) out[r * k + c] = Math.floor(rand() * 5000);
    out[r * k + perm[r]!]! += 1e6 + Math.floor(rand() * 1e6);
  }
  return out;
}

function randomCounts(k: number, rand: () => number): Float64Array {
  return Float64Array.from({ length: k * k }, () => Math.floor(rand() * 1e6));
}

const rand = lcg(7);

// --- update: 2,175 images of 320x320, 16 distinct reused batches of 1 image each ---
const K = 27;
const PIXELS = 320 * 320;
const IMAGES = 2175;
const preds: Int32Array[] = [];
const gts: Uint8Array[] = [];
for (let b = 0; b < 16; b++) {
  const p = new Int32Array(PIXELS);
  const g = new Uint8Array(PIXELS);
  for (let i = 0; i < PIXELS; i++) {
    const cls = Math.floor(rand() * K);
    g[i] = rand() < 0.1 ? 255 : cls; // ~10% ignore label
    p[i] = rand() < 0.6 ? (cls + 3) % K : Math.floor(rand() * K);
  }
  preds.push(p);
  gts.push(g);
}
const updateTimes: number[] = [];
const updateCpu: number[] = [];
for (let rep = 0; rep < 3; rep++) {
  const m = createConfusionMatrix({ numClasses: K });
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < IMAGES; i++) m.update(preds[i % 16]!, gts[i % 16]!);
  const c1 = process.cpuUsage(c0);
  updateTimes.push(performance.now() - t0);
  updateCpu.push((c1.user + c1.system) / 1000);
  if (rep === 0) {
    const r = computeMetrics(m);
    console.log(
      `update: ${m.total} valid pixels of ${IMAGES * PIXELS}; sanity accuracy ${(100 * r.accuracy).toFixed(2)}%`,
    );
  }
}
const upd = median(updateTimes);
const cpu = median(updateCpu);
console.log(
  `update   ${IMAGES} x 320 x 320 px (Int32Array pred, Uint8Array gt): median ${(upd / 1000).toFixed(3)} s wall, ` +
    `${(cpu / 1000).toFixed(3)} s CPU (${((IMAGES * PIXELS) / (upd / 1000) / 1e6).toFixed(0)} Mpx/s wall; target < 2 s); ` +
    `wall runs: ${updateTimes.map((t) => (t / 1000).toFixed(3)).join(', ')}`,
);

// --- Hungarian ---
function benchHungarian(
  k: number,
  reps: number,
  make: (k: number, r: () => number) => Float64Array,
  label: string,
) {
  const mats = Array.from({ length: 8 }, () => make(k, rand));
  for (const m of mats) maximumAssignment(m, k, k); // warm-up
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const m = mats[i % mats.length]!;
    const t0 = performance.now();
    maximumAssignment(m, k, k);
    times.push(performance.now() - t0);
  }
  console.log(
    `hungarian ${k}x${k} ${label}: median ${median(times).toFixed(3)} ms, max ${Math.max(...times).toFixed(3)} ms over ${reps}`,
  );
}
benchHungarian(27, 201, structuredCounts, 'structured');
benchHungarian(27, 201, randomCounts, 'uniform random');
benchHungarian(171, 31, structuredCounts, 'structured');
benchHungarian(171, 31, randomCounts, 'uniform random');
