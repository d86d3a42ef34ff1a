import type { LatticeKernel } from './message-passing.js';
import { instantiateLatticeKernels } from './wasm-lattice-kernels.js';
import { type WasmMemory, wasmApi } from './wasm-types.js';

const WASM_MAX_BYTES = 2 ** 31; // stay well inside the 4 GiB wasm32 address space
const PAD_UNARY = 1e30; // padding labels: energy −1e30, so their probability is exactly 0

/**
 * The whole mean-field loop (see mean-field.ts for the update) in one WebAssembly memory:
 * Q, messages and unaries as [N, Kp] rows with K padded to a multiple of 4, every lattice
 * filter and softmax in SIMD, no copies between iterations. Returns undefined when WebAssembly
 * is missing or the image needs more than 2 GiB, so the caller uses the JavaScript loop.
 */
/** The unary energies, or logits from which `U = min(−log clip, logsumexp(s) − s)` is computed here. */
export type WasmUnarySource = { unary: Float32Array } | { logits: Float32Array; clip: number };

export function wasmMeanField(
  source: WasmUnarySource,
  n: number,
  k: number,
  kernels: readonly LatticeKernel[],
  iterations: number,
): Float32Array | undefined {
  const api = wasmApi();
  if (api === undefined) return undefined;
  const kp = Math.ceil(k / 4) * 4;
  const stride = kp * 4;
  let top = 16; // keep address 0 unused
  const alloc = (bytes: number) => {
    const at = top;
    top += Math.ceil(bytes / 16) * 16;
    return at;
  };
  const qPtr = alloc(n * stride);
  const msgPtr = alloc(n * stride);
  const unaryPtr = alloc(n * stride);
  const maxVertices = Math.max(0, ...kernels.map((kernel) => kernel.lattice.numVertices));
  const values = [alloc((maxVertices + 1) * stride), alloc((maxVertices + 1) * stride)] as const;
  const layout = kernels.map(({ lattice }) => {
    const d1 = lattice.dim + 1;
    const m = lattice.numVertices;
    return {
      offsets: alloc(n * d1 * 4),
      weights: alloc(n * d1 * 4),
      norm: alloc(n * 4),
      nb1: alloc(d1 * m * 4),
      nb2: alloc(d1 * m * 4),
    };
  });
  if (top > WASM_MAX_BYTES) return undefined;
  let memory: WasmMemory;
  let wasm: ReturnType<typeof instantiateLatticeKernels>;
  try {
    memory = new api.Memory({ initial: Math.ceil(top / 65536) });
    wasm = instantiateLatticeKernels(api, memory, stride);
  } catch {
    return undefined;
  }
  const f32 = new Float32Array(memory.buffer);
  const i32 = new Int32Array(memory.buffer);
  kernels.forEach(({ lattice, norm }, index) => {
    const at = layout[index]!;
    i32.set(lattice.offsets, at.offsets / 4);
    f32.set(lattice.weights, at.weights / 4);
    f32.set(norm, at.norm / 4);
    i32.set(lattice.neighbours1, at.nb1 / 4);
    i32.set(lattice.neighbours2, at.nb2 / 4);
  });
  const unaryView = f32.subarray(unaryPtr / 4, unaryPtr / 4 + n * kp);
  const msgView = f32.subarray(msgPtr / 4, msgPtr / 4 + n * kp);
  const qView = f32.subarray(qPtr / 4, qPtr / 4 + n * kp);
  // Fresh memory is zero: only real labels and padding unaries need writing.
  if (kp !== k) for (let i = 0; i < n; i++) unaryView.fill(PAD_UNARY, i * kp + k, i * kp + kp);
  if ('unary' in source) {
    const { unary } = source;
    if (kp === k) unaryView.set(unary);
    else for (let i = 0; i < n; i++) for (let l = 0; l < k; l++) unaryView[i * kp + l] = unary[i * k + l]!;
  } else {
    // q = softmax(s) in SIMD; then logsumexp(s) = s_m − log q_m for the most probable label m
    // (one log per pixel instead of K exps), and U_l = min(−log clip, logsumexp(s) − s_l).
    const { logits, clip } = source;
    if (kp === k) msgView.set(logits);
    else for (let i = 0; i < n; i++) for (let l = 0; l < k; l++) msgView[i * kp + l] = logits[i * k + l]!;
    wasm.softmax(qPtr, msgPtr, unaryPtr, n, stride);
    const cap = -Math.log(clip);
    for (let i = 0; i < n; i++) {
      const row = i * kp;
      let best = 0;
      for (let l = 1; l < k; l++) if (qView[row + l]! > qView[row + best]!) best = l;
      const lse = logits[i * k + best]! - Math.log(qView[row + best]!);
      for (let l = 0; l < k; l++) unaryView[row + l] = Math.min(cap, lse - logits[i * k + l]!);
    }
    msgView.fill(0);
  }

  wasm.softmax(qPtr, msgPtr, unaryPtr, n, stride); // Q⁰ = softmax(−U) (messages are zero)
  for (let t = 0; t < iterations; t++) {
    msgView.fill(0);
    kernels.forEach(({ lattice, weight }, index) => {
      const at = layout[index]!;
      const d1 = lattice.dim + 1;
      const m = lattice.numVertices;
      let [src, dst] = values;
      f32.fill(0, src / 4, src / 4 + (m + 1) * kp);
      wasm.splat(src, qPtr, at.offsets, at.weights, at.norm, n, d1, stride);
      for (let j = 0; j < d1; j++) {
        wasm.blur(dst, src, at.nb1 + j * m * 4, at.nb2 + j * m * 4, m, stride);
        [src, dst] = [dst, src];
      }
      wasm.slice(msgPtr, src, at.offsets, at.weights, at.norm, n, d1, stride, lattice.alpha * weight);
    });
    wasm.softmax(qPtr, msgPtr, unaryPtr, n, stride);
  }

  const q = new Float32Array(n * k);
  if (kp === k) q.set(qView);
  else for (let i = 0; i < n; i++) for (let l = 0; l < k; l++) q[i * k + l] = qView[i * kp + l]!;
  return q;
}
