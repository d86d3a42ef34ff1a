/**
 * Dense CRF benchmark (issue 7): one 320×320 image with 27 labels, 10 iterations, official
 * constants, on one thread (median of several runs, wall and CPU time); the same with the
 * plain-JavaScript mean field; then a batch of 16 such images on 1 and 2 worker threads. pydensecrf's reference time
 * for the single image on this kind of machine: 0.74 s (median).
 */
import { availableParallelism, loadavg } from 'node:os';
import { denseCrfBatch } from '../src/crf/pool.js';
import { denseCrfValidated } from '../src/crf/solve.js';
import type { DenseCrfInput } from '../src/crf/types.js';
import { validateCrfInput } from '../src/crf/validate.js';

const SIDE = 320;
const LABELS = 27;
const GRID = 40; // the probes run on 40×40 patch features, upsampled to the image

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** A natural-looking test case: smooth colour regions with texture noise, and 2·cos-like logits
 * bilinearly upsampled from a 40×40 grid (as the official pipeline feeds the CRF). */
function syntheticCase(seed: number): DenseCrfInput {
  const r = lcg(seed);
  const regions = Array.from({ length: 12 }, () => ({
    x: r() * SIDE,
    y: r() * SIDE,
    c: [r() * 255, r() * 255, r() * 255],
    g: [(r() - 0.5) * 0.4, (r() - 0.5) * 0.4],
  }));
  const image = new Uint8Array(SIDE * SIDE * 3);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      let best = regions[0]!;
      let bestD = Number.POSITIVE_INFINITY;
      for (const region of regions) {
        const d = (x - region.x) ** 2 + (y - region.y) ** 2;
        if (d < bestD) {
          bestD = d;
          best = region;
        }
      }
      for (let c = 0; c < 3; c++) {
        const v = best.c[c]! + best.g[0]! * (x - best.x) + best.g[1]! * (y - best.y) + (r() - 0.5) * 12;
        image[(y * SIDE + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  const coarse = new Float32Array(GRID * GRID * LABELS).map(() => 2 * (2 * r() - 1));
  const scores = new Float32Array(SIDE * SIDE * LABELS);
  const scale = GRID / SIDE;
  for (let y = 0; y < SIDE; y++) {
    // align_corners=False sampling positions
    const gy = Math.min(GRID - 1, Math.max(0, (y + 0.5) * scale - 0.5));
    const y0 = Math.floor(gy);
    const y1 = Math.min(GRID - 1, y0 + 1);
    const fy = gy - y0;
    for (let x = 0; x < SIDE; x++) {
      const gx = Math.min(GRID - 1, Math.max(0, (x + 0.5) * scale - 0.5));
      const x0 = Math.floor(gx);
      const x1 = Math.min(GRID - 1, x0 + 1);
      const fx = gx - x0;
      for (let k = 0; k < LABELS; k++) {
        const at = (yy: number, xx: number) => coarse[(yy * GRID + xx) * LABELS + k]!;
        const top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx;
        const bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx;
        scores[(y * SIDE + x) * LABELS + k] = top * (1 - fy) + bottom * fy;
      }
    }
  }
  return { image, height: SIDE, width: SIDE, scores, numLabels: LABELS, input: 'logits' };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const item = syntheticCase(1);
const valid = validateCrfInput('bench', item);
console.log(
  `dense CRF bench: ${SIDE}×${SIDE}, K=${LABELS}, 10 iterations, official constants; ` +
    `${availableParallelism()} CPUs, load average ${loadavg()
      .map((v) => v.toFixed(1))
      .join(' ')}`,
);

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
denseCrfValidated(valid); // warm-up (JIT, wasm compile)
const times: number[] = [];
const cpuTimes: number[] = [];
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  const c0 = cpuMs();
  denseCrfValidated(valid);
  times.push(performance.now() - t0);
  cpuTimes.push(cpuMs() - c0);
}
const single = median(times);
console.log(
  `one image, one thread (wasm SIMD): median ${(single / 1000).toFixed(3)} s wall, ` +
    `${(median(cpuTimes) / 1000).toFixed(3)} s CPU, of ${times.length} ` +
    `[${times.map((t) => (t / 1000).toFixed(3)).join(', ')}] (pydensecrf: 0.74 s)`,
);

const jsTimes: number[] = [];
const jsCpu: number[] = [];
for (let i = 0; i < 2; i++) {
  const t0 = performance.now();
  const c0 = cpuMs();
  denseCrfValidated(valid, 'js');
  jsTimes.push(performance.now() - t0);
  jsCpu.push(cpuMs() - c0);
}
console.log(
  `one image, one thread (plain JavaScript): median ${(median(jsTimes) / 1000).toFixed(3)} s wall, ` +
    `${(median(jsCpu) / 1000).toFixed(3)} s CPU, of 2`,
);

const batch = Array.from({ length: 16 }, (_, i) => (i % 4 === 0 ? item : syntheticCase(i + 1)));
const wall: Record<number, number> = {};
for (const threads of [1, 2]) {
  const t0 = performance.now();
  await denseCrfBatch(batch, { threads });
  wall[threads] = performance.now() - t0;
  console.log(
    `batch of 16, ${threads} worker thread(s): ${(wall[threads]! / 1000).toFixed(2)} s ` +
      `(${(wall[threads]! / 16 / 1000).toFixed(3)} s/image, incl. worker start-up and copies)`,
  );
}
console.log(`speed-up with 2 worker threads: ${(wall[1]! / wall[2]!).toFixed(2)}×`);
