/**
 * Environment for the PyTorch side of our benchmarks, so the comparison is fair to PyTorch.
 *
 * Debian's OpenBLAS 0.3.21 does not recognise recent Xeons (Sapphire Rapids and later) and falls
 * back to its generic "Prescott" SSE kernels: measured here, 15–33 GFLOP/s for a 2048² sgemm on 2
 * threads, against 110–120 GFLOP/s with the SkylakeX (AVX-512) kernels, whose results we checked
 * against float64 (max abs error 9e-5 on [8·785, 384] × [384, 1152]). When the CPU has AVX-512
 * (or AVX2) and the user has not chosen a core type, we choose it for the benchmark's Python run only.
 */
import { readFileSync } from 'node:fs';

export interface TorchBenchEnv {
  env: NodeJS.ProcessEnv;
  /** What we did, for the benchmark's printed header. */
  note: string;
}

export function torchBenchEnv(): TorchBenchEnv {
  if (process.env.OPENBLAS_CORETYPE) {
    return {
      env: process.env,
      note: `OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE} (from the environment)`,
    };
  }
  let flags = '';
  try {
    flags = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return { env: process.env, note: 'OpenBLAS core type left to autodetection (no /proc/cpuinfo)' };
  }
  const core = /\bavx512f\b/.test(flags) ? 'SkylakeX' : /\bavx2\b/.test(flags) ? 'Haswell' : undefined;
  if (core === undefined) return { env: process.env, note: 'OpenBLAS core type left to autodetection' };
  return {
    env: { ...process.env, OPENBLAS_CORETYPE: core },
    note: `OPENBLAS_CORETYPE=${core} for PyTorch (Debian's OpenBLAS would fall back to generic SSE kernels on this CPU)`,
  };
}
