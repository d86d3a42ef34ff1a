/**
 * The fused engine of `mixLocalPositives` (official-behaviour §3.7, step 6) and of its gradient, on the
 * threads of the fused engine's pool: the same float32 operations in the same order as the TF.js ops of
 * local-positives.ts (`shiftSum`, `shiftSumTransposed`): per output row, term k = 0 is the product
 * `x[neighbour] · weight`, each later term is one float32 product added to the running float32 sum
 * (kernels.wat `scaleAddRow`), a zero row where the neighbour is outside the image. So the results are bit
 * for bit those of the TF.js engine. The TF.js engine makes 9 sliced copies of the padded `[B, h, w, D]`
 * input per pass and as many products and sums, on one wasm thread.
 */
import { writeParams } from './control.js';
import { Arena, getRows, putRows, rowStride } from './fused-loss.js';
import type { FusedPool } from './pool.js';
import { MIX_PARAMS, TASK_MIX } from './tasks.js';

/**
 * x `[B·h·w, D]` (row b·h·w + i·w + j), weights `[B·h·w, 9]` in `LOCAL_WINDOW_OFFSETS` order →
 * the mix (`adjoint` false) or its adjoint applied to x (`adjoint` true: the gradient for dy = x).
 */
export function mixLocalFused(
  pool: FusedPool,
  x: Float32Array,
  weights: Float32Array,
  shape: { batch: number; h: number; w: number; d: number },
  adjoint: boolean,
): Float32Array {
  const { batch, h, w, d } = shape;
  const n = batch * h * w;
  const stride = rowStride(d);
  const arena = new Arena();
  const at = {
    x: arena.alloc(n * stride),
    out: arena.alloc(n * stride),
    weights: arena.alloc(n * 9 * 4),
    zero: arena.alloc(stride),
  };
  pool.reserve(arena.top, 'mixLocalPositives');
  const f32 = new Float32Array(pool.memory.buffer);
  putRows(f32, at.x, stride, x, n, d);
  f32.set(weights.subarray(0, n * 9), at.weights >>> 2);
  f32.fill(0, at.zero >>> 2, (at.zero + stride) >>> 2);
  writeParams(pool.control, MIX_PARAMS, {
    ...at,
    batch,
    h,
    w,
    stride,
    len: stride,
    adjoint: adjoint ? 1 : 0,
  });
  pool.run(TASK_MIX);
  return getRows(new Float32Array(pool.memory.buffer), at.out, stride, n, d);
}
