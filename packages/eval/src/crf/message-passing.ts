import { PermutohedralLattice } from './lattice.js';

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
