import { PermutohedralLattice } from './lattice.js';
import { instantiateLatticeKernels } from './wasm-lattice-kernels.js';
import { type WasmMemory, wasmApi } from './wasm-types.js';

/** One pairwise kernel ready for message passing: its lattice, symmetric normaliser and weight. */
export interface LatticeKernel {
  lattice: PermutohedralLattice;
  /** 1/√(K·1 + 1e−20) per point (pydensecrf NORMALIZE_SYMMETRIC). */
  norm: Float32Array;
  weight: number;
}

/** `out = Σ_m w_m · D_m^−½ K_m D_m^−½ · q` for [N, K] point-major `q`. */
export type MessagePasser = (q: Float32Array, out: Float32Array) => void;

/** Builds the lattice of `features` ([N, dim]) and its symmetric normaliser from filtering ones. */
export function buildLatticeKernel(
  features: Float32Array,
  n: number,
  dim: number,
  weight: number,
): LatticeKernel {
  const lattice = new PermutohedralLattice(features, n, dim);
  const norm = new Float32Array(n);
  lattice.filter(new Float32Array(n).fill(1), norm, 1);
  for (let i = 0; i < n; i++) norm[i] = 1 / Math.sqrt(norm[i]! + 1e-20);
  return { lattice, norm, weight };
}

/** Plain JavaScript message passing (reference for the WebAssembly path and its fallback). */
export function jsMessagePasser(kernels: readonly LatticeKernel[], n: number, k: number): MessagePasser {
  const scaled = new Float32Array(n * k);
  const filtered = new Float32Array(n * k);
  return (q, out) => {
    out.fill(0);
    for (const { lattice, norm, weight } of kernels) {
      for (let i = 0; i < n; i++) {
        const s = norm[i]!;
        for (let l = 0; l < k; l++) scaled[i * k + l] = q[i * k + l]! * s;
      }
      lattice.filter(scaled, filtered, k);
      for (let i = 0; i < n; i++) {
        const s = norm[i]! * weight;
        for (let l = 0; l < k; l++) out[i * k + l]! += filtered[i * k + l]! * s;
      }
    }
  };
}

const WASM_MAX_BYTES = 2 ** 31; // stay well inside the 4 GiB wasm32 address space

/**
 * The same message passing with splat/blur/slice in WebAssembly SIMD; channels are padded to a
 * multiple of 4. Returns undefined when WebAssembly is unavailable or the image is too large,
 * so the caller falls back to `jsMessagePasser`.
 */
export function wasmMessagePasser(
  kernels: readonly LatticeKernel[],
  n: number,
  k: number,
): MessagePasser | undefined {
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
  const outPtr = alloc(n * stride);
  const maxVertices = Math.max(0, ...kernels.map((kernel) => kernel.lattice.numVertices));
  const values = [alloc((maxVertices + 1) * stride), alloc((maxVertices + 1) * stride)];
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
    wasm = instantiateLatticeKernels(api, memory);
  } catch {
    return undefined;
  }
  const buffer = memory.buffer;
  const f32 = new Float32Array(buffer);
  const i32 = new Int32Array(buffer);
  kernels.forEach(({ lattice, norm }, m) => {
    const at = layout[m]!;
    i32.set(lattice.offsets, at.offsets / 4);
    f32.set(lattice.weights, at.weights / 4);
    f32.set(norm, at.norm / 4);
    i32.set(lattice.neighbours1, at.nb1 / 4);
    i32.set(lattice.neighbours2, at.nb2 / 4);
  });
  const qView = new Float32Array(buffer, qPtr, n * kp);
  const outView = new Float32Array(buffer, outPtr, n * kp);
  return (q, out) => {
    if (kp === k) qView.set(q);
    else for (let i = 0; i < n; i++) qView.set(q.subarray(i * k, i * k + k), i * kp);
    outView.fill(0);
    kernels.forEach(({ lattice, weight }, index) => {
      const at = layout[index]!;
      const d1 = lattice.dim + 1;
      const m = lattice.numVertices;
      let [src, dst] = values as [number, number];
      f32.fill(0, src / 4, src / 4 + (m + 1) * kp);
      wasm.splat(src, qPtr, at.offsets, at.weights, at.norm, n, d1, stride);
      for (let j = 0; j < d1; j++) {
        wasm.blur(dst, src, at.nb1 + j * m * 4, at.nb2 + j * m * 4, m, stride);
        [src, dst] = [dst, src];
      }
      wasm.slice(outPtr, src, at.offsets, at.weights, at.norm, n, d1, stride, lattice.alpha * weight);
    });
    if (kp === k) out.set(outView);
    else for (let i = 0; i < n; i++) out.set(outView.subarray(i * kp, i * kp + k), i * k);
  };
}
