/**
 * The fused engine of `hiddenPositiveLoss`: the same objective as the TF.js engine, computed on host
 * arrays by the WebAssembly kernels of kernels.wat on the threads of a `FusedPool`.
 *
 * The TF.js engine builds eight dense [P, N] matrices per image. Most of that is not needed: with ρ < 1
 * the contrast set A = not-self ∧ (M_ag ∨ R) and the positive weights W = M_ag + λ M_sp are sparse
 * (density ≈ ρ + the positives), the loss needs the logits ℓ_ij only where A or W is non-zero, and its
 * gradient dℓ is zero everywhere else. The work that stays dense is
 *   1. the criteria c = max over the pool (N × Q dot products each),
 *   2. the positive masks M = [x_i · x_j > min(c_i, c_j)] of f̂ and ŝ′: symmetric, so each pair is
 *      computed once, thresholded in registers and kept as an N × N bit matrix (N²/8 bytes),
 * and the rest is sampled: logits, row sums and both gradient products on the entries of A ∪ W only.
 * No [P, N] float matrix is ever built.
 */

import type { HostMatMul } from '@hpseg/core';
import seedrandom from 'seedrandom';
import { writeParams } from './control.js';
import type { FusedLossProfiler } from './engine.js';
import { ROW_ALIGN } from './kernels.js';
import type { FusedPool } from './pool.js';
import {
  COUNTS_PARAMS,
  CRITERION_PARAMS,
  FILL_PARAMS,
  GROUP_F64,
  GROUP_PARAMS,
  groupScratchBytes,
  JOIN_F64,
  JOIN_PARAMS,
  QUANTIZE_PARAMS,
  REDUCE_PARAMS,
  ROW_MAX_PARAMS,
  TASK_COUNTS,
  TASK_CRITERION,
  TASK_FILL,
  TASK_GROUPS,
  TASK_JOIN,
  TASK_QUANTIZE,
  TASK_REDUCE,
  TASK_ROW_MAX,
  TASK_THRESHOLD,
  THRESHOLD_PARAMS,
} from './tasks.js';

export interface FusedLossData {
  readonly batch: number;
  readonly p: number;
  /** Widths of z / z̃, f̂, ŝ′. */
  readonly d: number;
  readonly c: number;
  readonly dm: number;
  readonly z: Float32Array; // [N, D]
  readonly zMix: Float32Array; // [N, D]
  readonly f: Float32Array; // [N, C] normalised
  readonly poolAg: Float32Array; // [Q, C] normalised
  /** [N, D′] normalised, null when λ = 0. */
  readonly s: Float32Array | null;
  readonly poolSp: Float32Array | null; // [Q′, D′] normalised
  readonly lambda: number;
  readonly tau: number;
  /** (τ / 0.07) / (B · 2). */
  readonly scale: number;
  /**
   * The negative mask R, [P, N] row-major, row r used by every anchor b·P + r. Either the values of an
   * injected mask (kept where non-zero), or the seed of the TF.js engine's draw: u = float32 of
   * `seedrandom.alea(String(seed))()` in row-major order (what `tf.randomUniform([P, N], 0, 1,
   * 'float32', seed)` returns) kept where u < `below` (ρ as float32). null: every column (ρ = 1).
   */
  readonly keep:
    | { readonly values: ArrayLike<number> }
    | { readonly seed: number; readonly below: number }
    | null;
  readonly withGrad: boolean;
  /**
   * A host matrix product (@hpseg/core `activeHostMatMul`, e.g. ONNX Runtime's multi-threaded Gemm): when
   * given, the dense phases (criteria and positive pairs) take their dot products from it, block by block,
   * instead of the int16-then-float32 kernels (`productCriteria`, `productJoin`).
   */
  readonly product?: HostMatMul;
  /** Told the wall time of each phase and the sampled entries (benchmarks). */
  readonly profiler?: FusedLossProfiler;
}

export interface FusedLossResult {
  readonly loss: number;
  /** [N, D] gradients, null without `withGrad`. */
  readonly gradZ: Float32Array | null;
  readonly gradMix: Float32Array | null;
}

/** Anchors per unit of the sampled phase when every column is kept (ρ = 1). */
const DENSE_UNIT = 64;
/**
 * Row groups per super-unit, whose extra entries (positives outside R) are sorted by column so that a
 * column row is read once for all the neighbouring anchors that use it; fewer when the super-unit's
 * entries would pass SUPER_ENTRIES (≈ 40 bytes each per thread in wasm and JS arrays: 40 MiB).
 */
const SUPER_UNITS = 32;
const SUPER_ENTRIES = 1 << 20;

/** Column block of the symmetric join: 256 rows of 384–512 floats stay in a 2 MiB L2. */
const JOIN_BLOCK = 256;

export const rowStride = (cols: number) => Math.ceil((cols * 4) / ROW_ALIGN) * ROW_ALIGN;

/** Scale of the int16 copies of the unit rows for the integer passes (|x_k| ≤ 1 → |q_k| ≤ 32767). */
const QUANT_SCALE = 32767;

/**
 * eps, a bound on |approximation − float32 dot product| of a row of one matrix and a row of another
 * (max ‖·‖₁ l1a, l1b; max ‖·‖² sqa, sqb; K columns): with x = (q + e) / S, |e_k| ≤ 1/2,
 *   |Σ x_k y_k − Σ q_k r_k / S²| ≤ (‖x‖₁ + ‖y‖₁) / (2S) + 3K / (4S²) (as ‖q‖₁ ≤ S‖x‖₁ + K/2),
 *   |float32 sum − exact sum| ≤ 1.01 · K · 2⁻²⁴ · ‖x‖‖y‖ (recursive summation),
 * doubled (the norms come from float32 sums), plus 1e-6 for the float32 conversions of the test itself.
 */
function quantizationBound(l1a: number, l1b: number, sqa: number, sqb: number, cols: number): number {
  const s = QUANT_SCALE;
  return (
    2 * ((l1a + l1b) / (2 * s) + (0.75 * cols) / (s * s) + 1.01 * cols * 2 ** -24 * Math.sqrt(sqa * sqb)) +
    1e-6
  );
}

export class Arena {
  top = ROW_ALIGN;
  alloc(bytes: number): number {
    const at = this.top;
    this.top += Math.ceil(Math.max(bytes, 1) / ROW_ALIGN) * ROW_ALIGN;
    return at;
  }
}

/** Copies `rows` rows of `cols` floats into the memory at `ptr`, `stride` bytes apart (padding left 0). */
export function putRows(
  f32: Float32Array,
  ptr: number,
  stride: number,
  src: Float32Array,
  rows: number,
  cols: number,
) {
  const base = ptr >>> 2;
  const step = stride >>> 2;
  if (step === cols) {
    f32.set(src.subarray(0, rows * cols), base);
    return;
  }
  for (let i = 0; i < rows; i += 1) {
    const row = base + i * step;
    f32.set(src.subarray(i * cols, (i + 1) * cols), row);
    f32.fill(0, row + cols, row + step);
  }
}

export function getRows(
  f32: Float32Array,
  ptr: number,
  stride: number,
  rows: number,
  cols: number,
): Float32Array {
  const out = new Float32Array(rows * cols);
  const base = ptr >>> 2;
  const step = stride >>> 2;
  if (step === cols) {
    out.set(f32.subarray(base, base + rows * cols));
    return out;
  }
  for (let i = 0; i < rows; i += 1) out.set(f32.subarray(base + i * step, base + i * step + cols), i * cols);
  return out;
}

interface NegativeRows {
  readonly start: Int32Array; // [P] first entry of row r
  readonly len: Int32Array; // [P] entries of row r
  readonly idx: Int32Array; // column indices, sorted per row
}

/** R, row by row: the same row r for every image (the official mask_neglect_base). */
function negativeRows(keep: FusedLossData['keep'], p: number, n: number): NegativeRows {
  const len = new Int32Array(p);
  const start = new Int32Array(p);
  if (keep === null) {
    len.fill(n);
    return { start, len, idx: new Int32Array(n).map((_, j) => j) };
  }
  // One pass, each loop specialised on the kind of mask (no call per entry).
  let cols = new Int32Array(Math.max(1024, Math.ceil(p * n * ('below' in keep ? keep.below * 1.1 : 0.1))));
  let total = 0;
  const push = (j: number) => {
    if (total === cols.length) {
      const grown = new Int32Array(cols.length * 2);
      grown.set(cols);
      cols = grown;
    }
    cols[total++] = j;
  };
  const random = 'seed' in keep ? seedrandom.alea(String(keep.seed)) : null;
  for (let r = 0; r < p; r += 1) {
    start[r] = total;
    if (random !== null && 'below' in keep) {
      const below = keep.below;
      for (let j = 0; j < n; j += 1) if (Math.fround(random()) < below) push(j);
    } else if ('values' in keep) {
      const { values } = keep;
      const row = r * n;
      for (let j = 0; j < n; j += 1) if (values[row + j] !== 0) push(j);
    }
    len[r] = total - start[r]!;
  }
  return { start, len, idx: cols.subarray(0, total) };
}

/** The loss and its gradients w.r.t. z and z̃ (see the module comment); synchronous. */
export function fusedHiddenPositiveLoss(pool: FusedPool, data: FusedLossData): FusedLossResult {
  let last = performance.now();
  const phase = (name: string) => {
    if (data.profiler === undefined) return;
    const now = performance.now();
    data.profiler.phase(name, now - last);
    last = now;
  };
  const fn = 'hiddenPositiveLoss';
  const { batch, p, d, c, dm } = data;
  const n = batch * p;
  const threads = pool.threads;
  const strideD = rowStride(d);
  const strideC = rowStride(c);
  const strideDm = rowStride(dm);
  const rowBytes = Math.ceil(n / 64) * 8;
  const withSp = data.s !== null && data.poolSp !== null;
  const q = data.poolAg.length / c;
  const qs = withSp ? data.poolSp!.length / dm : 0;

  const arena = new Arena();
  const at = {
    z: arena.alloc(n * strideD),
    zMix: arena.alloc(n * strideD),
    f: arena.alloc(n * strideC),
    poolAg: arena.alloc(q * strideC),
    s: withSp ? arena.alloc(n * strideDm) : 0,
    poolSp: withSp ? arena.alloc(qs * strideDm) : 0,
    cAg: arena.alloc((n + 4) * 4), // the kernels read and write whole 4-row tiles
    cSp: arena.alloc((n + 4) * 4),
    fq: arena.alloc((n * strideC) / 2), // int16 rows at half the float stride
    poolAgQ: arena.alloc((q * strideC) / 2),
    sq: withSp ? arena.alloc((n * strideDm) / 2) : 0,
    poolSpQ: withSp ? arena.alloc((qs * strideDm) / 2) : 0,
    approx: arena.alloc((n + 4) * 4),
    l1: arena.alloc(Math.max(n, q, qs) * 4),
    sqNorm: arena.alloc(Math.max(n, q, qs) * 4),
    bitsAg: arena.alloc(n * rowBytes),
    bitsSp: withSp ? arena.alloc(n * rowBytes) : 0,
    rStart: arena.alloc(p * 4),
    rLen: arena.alloc(p * 4),
    rBits: arena.alloc(p * rowBytes),
    cntAg: arena.alloc(n * 4),
    cntSp: arena.alloc(n * 4),
    coef: arena.alloc(n * 8),
    weightSum: arena.alloc(n * 8),
    lossOut: arena.alloc(threads * 16), // per thread: loss, extra entries
    // one block of host-product similarities, copied in for the threads (3 floats of padding)
    sims: data.product ? arena.alloc((PRODUCT_BLOCK * Math.max(n, q, qs) + 4) * 4) : 0,
  };
  pool.reserve(arena.top, fn);
  let view = views(pool);
  putRows(view.f32, at.z, strideD, data.z, n, d);
  putRows(view.f32, at.zMix, strideD, data.zMix, n, d);
  putRows(view.f32, at.f, strideC, data.f, n, c);
  putRows(view.f32, at.poolAg, strideC, data.poolAg, q, c);
  if (withSp) {
    putRows(view.f32, at.s, strideDm, data.s!, n, dm);
    putRows(view.f32, at.poolSp, strideDm, data.poolSp!, qs, dm);
  }
  const fill = (ptr: number, bytes: number) => {
    if (bytes === 0) return;
    writeParams(pool.control, FILL_PARAMS, { ptr, bytes });
    pool.run(TASK_FILL);
  };
  phase('copy in');
  fill(at.bitsAg, n * rowBytes);
  if (withSp) fill(at.bitsSp, n * rowBytes);

  // int16 copies for the integer first pass of criteria and join, and the norms for their error bound
  const quantize = (src: number, stride: number, dst: number, rows: number) => {
    writeParams(pool.control, QUANTIZE_PARAMS, { src, stride, dst, n: rows, l1: at.l1, sq: at.sqNorm });
    pool.run(TASK_QUANTIZE);
    const v = views(pool).f32;
    let l1 = 0;
    let sq = 0;
    for (let i = 0; i < rows; i += 1) {
      l1 = Math.max(l1, v[(at.l1 >>> 2) + i]!);
      sq = Math.max(sq, v[(at.sqNorm >>> 2) + i]!);
    }
    return { l1, sq };
  };
  const product = data.product;
  const none = { l1: 0, sq: 0 };
  const normsF = product ? none : quantize(at.f, strideC, at.fq, n);
  const normsPoolAg = product ? none : quantize(at.poolAg, strideC, at.poolAgQ, q);
  const normsS = withSp && !product ? quantize(at.s, strideDm, at.sq, n) : none;
  const normsPoolSp = withSp && !product ? quantize(at.poolSp, strideDm, at.poolSpQ, qs) : none;
  const bound = (a: { l1: number; sq: number }, b: { l1: number; sq: number }, cols: number) =>
    quantizationBound(a.l1, b.l1, a.sq, b.sq, cols);
  phase('int16 copies');

  // 1. criteria c_ag, c_sp (official-behaviour §3.3: Rpoint, Rpoint_ema)
  const criterion = (
    x: number,
    stride: number,
    poolPtr: number,
    rows: number,
    out: number,
    xq: number,
    pq: number,
    eps: number,
    before?: () => void,
  ) => {
    pool.control.f64[JOIN_F64.eps] = eps;
    writeParams(pool.control, CRITERION_PARAMS, {
      x,
      stride,
      n,
      pool: poolPtr,
      q: rows,
      len: stride,
      out,
      xq,
      pq,
      qStride: stride / 2,
      approx: at.approx,
    });
    pool.run(TASK_CRITERION, before);
  };
  // The calling thread draws R while the workers start on the first criterion (shared chunks balance it).
  let rows: NegativeRows | undefined;
  if (product) {
    rows = negativeRows(data.keep, p, n);
    productCriteria(product, pool, at.sims, data.f, c, data.poolAg, q, at.cAg);
    if (withSp) productCriteria(product, pool, at.sims, data.s!, dm, data.poolSp!, qs, at.cSp);
  } else {
    criterion(at.f, strideC, at.poolAg, q, at.cAg, at.fq, at.poolAgQ, bound(normsF, normsPoolAg, c), () => {
      rows = negativeRows(data.keep, p, n);
    });
    if (withSp)
      criterion(at.s, strideDm, at.poolSp, qs, at.cSp, at.sq, at.poolSpQ, bound(normsS, normsPoolSp, dm));
  }
  phase('criteria, mask rows');
  const { start: rStart, len: rLen, idx: rIdx } = rows!;
  const keep = data.keep;
  const rIdxAt = arena.alloc(rIdx.length * 4);
  const rOffAt = arena.alloc(rIdx.length * 4);
  pool.reserve(arena.top, fn);
  view = views(pool);
  view.i32.set(rStart, at.rStart >>> 2);
  view.i32.set(rLen, at.rLen >>> 2);
  view.i32.set(rIdx, rIdxAt >>> 2);
  view.i32.set(
    rIdx.map((j) => j * strideD),
    rOffAt >>> 2,
  );
  const rBits = view.i32.subarray(at.rBits >>> 2, (at.rBits + p * rowBytes) >>> 2);
  rBits.fill(keep === null ? -1 : 0);
  for (let r = 0; keep !== null && r < p; r += 1) {
    const row = (r * rowBytes) >>> 2;
    for (let t = rStart[r]!; t < rStart[r]! + rLen[r]!; t += 1) {
      const j = rIdx[t]!;
      rBits[row + (j >>> 5)]! |= 1 << (j & 31);
    }
  }

  // 2. positive bit matrices M_ag, M_sp (symmetric, strict >)
  const join = (x: number, stride: number, cPtr: number, bits: number, xq: number, eps: number) => {
    pool.control.f64[JOIN_F64.eps] = eps;
    writeParams(pool.control, JOIN_PARAMS, {
      x,
      stride,
      n,
      c: cPtr,
      bits,
      rowBytes,
      len: stride,
      block: JOIN_BLOCK,
      xq,
      qStride: stride / 2,
    });
    pool.run(TASK_JOIN);
  };
  if (product) {
    productJoin(product, pool, at.sims, data.f, c, at.cAg, at.bitsAg, rowBytes);
    if (withSp) productJoin(product, pool, at.sims, data.s!, dm, at.cSp, at.bitsSp, rowBytes);
  } else {
    join(at.f, strideC, at.cAg, at.bitsAg, at.fq, bound(normsF, normsF, c));
    if (withSp) join(at.s, strideDm, at.cSp, at.bitsSp, at.sq, bound(normsS, normsS, dm));
  }
  phase('positive pairs');
  writeParams(pool.control, COUNTS_PARAMS, {
    bitsAg: at.bitsAg,
    bitsSp: at.bitsSp,
    rowBytes,
    n,
    outAg: at.cntAg,
    outSp: at.cntSp,
  });
  pool.run(TASK_COUNTS);

  // 3. per-anchor weights: n_i = |M_ag,i| + λ |M_sp,i|, valid = |M_ag,i| > 0, and
  //    coef_i = −scale · w_i / |V| = −scale · n_i / Σ_{k∈V} n_k (w_i = n_i / mean_V n, "pnm").
  view = views(pool);
  const cntAg = view.i32.subarray(at.cntAg >>> 2, (at.cntAg >>> 2) + n);
  const cntSp = view.i32.subarray(at.cntSp >>> 2, (at.cntSp >>> 2) + n);
  const coef = view.f64.subarray(at.coef >>> 3, (at.coef >>> 3) + n);
  const weightSum = view.f64.subarray(at.weightSum >>> 3, (at.weightSum >>> 3) + n);
  for (let b = 0; b < batch; b += 1) {
    let total = 0;
    for (let a = b * p; a < (b + 1) * p; a += 1) {
      weightSum[a] = cntAg[a]! + (withSp ? data.lambda * cntSp[a]! : 0);
      if (cntAg[a]! > 0) total += weightSum[a]!;
    }
    for (let a = b * p; a < (b + 1) * p; a += 1) {
      coef[a] = cntAg[a]! > 0 ? (-data.scale * weightSum[a]!) / Math.max(total, 1) : 0;
    }
  }
  // 4. sampled logits, losses and gradients, one row group per task share
  const accThreadBytes = 2 * n * strideD;
  // with every column kept, units of 64 consecutive anchors (a [64, N] logits tile per thread)
  const allCols = keep === null;
  const unitAnchors = allCols ? Math.min(n, Math.max(batch, DENSE_UNIT)) : batch;
  const units = allCols ? Math.ceil(n / unitAnchors) : p;
  // bound on each unit's extra entries (positives outside R), and super-units of consecutive row
  // groups whose extra entries fit SUPER_ENTRIES (≤ SUPER_UNITS row groups)
  const unitBound = new Float64Array(units);
  let maxM = 0;
  for (let u = 0; u < units; u += 1) {
    let e = 0;
    for (let b = 0; b < unitAnchors; b += 1) {
      const a = allCols ? u * unitAnchors + b : b * p + u;
      if (a < n && coef[a] !== 0) e += cntAg[a]! + (withSp ? cntSp[a]! : 0);
    }
    unitBound[u] = e;
    maxM = Math.max(maxM, rLen[allCols ? 0 : u]!);
  }
  const widest = unitBound.reduce((x, y) => Math.max(x, y), 1);
  const unitsPerSuper = allCols ? 1 : Math.max(1, Math.min(SUPER_UNITS, Math.floor(SUPER_ENTRIES / widest)));
  let maxE = 0;
  for (let u0 = 0; u0 < units; u0 += unitsPerSuper) {
    let e = 0;
    for (let u = u0; u < Math.min(units, u0 + unitsPerSuper); u += 1) e += unitBound[u]!;
    maxE = Math.max(maxE, e);
  }
  const scratchBytes = groupScratchBytes(unitsPerSuper * unitAnchors, unitAnchors, maxM, maxE);
  const acc = arena.alloc(threads * accThreadBytes);
  const scratch = arena.alloc(threads * scratchBytes);
  pool.reserve(arena.top, fn);
  if (data.withGrad) fill(acc, threads * accThreadBytes);
  writeParams(pool.control, GROUP_PARAMS, {
    p,
    batch,
    z: at.z,
    zMix: at.zMix,
    stride: strideD,
    bitsAg: at.bitsAg,
    bitsSp: withSp ? at.bitsSp : 0,
    rowBytes,
    rStart: at.rStart,
    rLen: at.rLen,
    rIdx: rIdxAt,
    rOff: rOffAt,
    rBits: at.rBits,
    coef: at.coef,
    weightSum: at.weightSum,
    acc,
    accThreadBytes,
    scratch,
    scratchBytes,
    maxM,
    allCols: allCols ? 1 : 0,
    unitAnchors,
    unitsPerSuper,
    maxE,
    withGrad: data.withGrad ? 1 : 0,
    lossOut: at.lossOut,
  });
  pool.control.f64[GROUP_F64.invTau] = 1 / data.tau;
  pool.control.f64[GROUP_F64.lambda] = withSp ? data.lambda : 0;
  phase('counts, weights');
  pool.run(TASK_GROUPS);
  phase('sampled loss and gradient');

  view = views(pool);
  let loss = 0;
  let extra = 0;
  for (let t = 0; t < threads; t += 1) {
    loss += view.f64[(at.lossOut >>> 3) + 2 * t]!;
    extra += view.f64[(at.lossOut >>> 3) + 2 * t + 1]!;
  }
  let tile = 0;
  for (let r = 0; r < p; r += 1) tile += batch * rLen[r]!;
  data.profiler?.entries(tile, extra);
  if (!data.withGrad) return { loss, gradZ: null, gradMix: null };
  if (threads > 1) {
    writeParams(pool.control, REDUCE_PARAMS, {
      acc,
      threadBytes: accThreadBytes,
      bytes: accThreadBytes,
      threads,
    });
    pool.run(TASK_REDUCE);
  }
  phase('reduce');
  view = views(pool);
  return {
    loss,
    gradZ: getRows(view.f32, acc, strideD, n, d),
    gradMix: getRows(view.f32, acc + n * strideD, strideD, n, d),
  };
}

/** Rows of one host product in the dense phases: a [256, N] block of similarities is 6.4 MB at N = 6272. */
const PRODUCT_BLOCK = 256;

/**
 * c_i = max_q x_i · pool_q (the criteria, official-behaviour §3.3) from blocks `x[i0:i1] @ poolᵀ` of the host
 * product, each copied to `sims` in the pool's memory and reduced by its threads (`rowMax`), written as
 * float32 at `out`. x `[N, cols]`, pool `[Q, cols]`.
 */
function productCriteria(
  product: HostMatMul,
  pool: FusedPool,
  sims: number,
  x: Float32Array,
  cols: number,
  poolRows: Float32Array,
  q: number,
  out: number,
): void {
  const n = x.length / cols;
  const f32 = views(pool).f32;
  for (let i0 = 0; i0 < n; i0 += PRODUCT_BLOCK) {
    const rows = Math.min(PRODUCT_BLOCK, n - i0);
    const block = product.run({
      a: x.subarray(i0 * cols, (i0 + rows) * cols),
      aShape: [rows, cols],
      b: poolRows,
      bShape: [q, cols],
      transA: false,
      transB: true,
    });
    f32.set(block.subarray(0, rows * q), sims >>> 2);
    writeParams(pool.control, ROW_MAX_PARAMS, { sims, q, rows, out: out + i0 * 4 });
    pool.run(TASK_ROW_MAX);
  }
}

/**
 * The positive bits M_ij = [x_i · x_j > min(c_i, c_j)] for i ≠ j (symmetric, strict >, no diagonal) from
 * blocks `x[i0:i1] @ x[i0:N]ᵀ` of the host product (the upper triangle and its block diagonal), each copied
 * to `sims` in the pool's memory and tested by its threads (`threshold`), set in the zeroed bit matrix at
 * `bits` (row i: `rowBytes` bytes, bit j).
 */
function productJoin(
  product: HostMatMul,
  pool: FusedPool,
  sims: number,
  x: Float32Array,
  cols: number,
  cPtr: number,
  bits: number,
  rowBytes: number,
): void {
  const n = x.length / cols;
  const f32 = views(pool).f32;
  for (let i0 = 0; i0 < n; i0 += PRODUCT_BLOCK) {
    const rows = Math.min(PRODUCT_BLOCK, n - i0);
    const width = n - i0;
    const block = product.run({
      a: x.subarray(i0 * cols, (i0 + rows) * cols),
      aShape: [rows, cols],
      b: x.subarray(i0 * cols),
      bShape: [width, cols],
      transA: false,
      transB: true,
    });
    f32.set(block.subarray(0, rows * width), sims >>> 2);
    writeParams(pool.control, THRESHOLD_PARAMS, { sims, width, i0, rows, n, c: cPtr, bits, rowBytes });
    pool.run(TASK_THRESHOLD);
  }
}

function views(pool: FusedPool) {
  const buffer = pool.memory.buffer;
  return {
    f32: new Float32Array(buffer),
    i32: new Int32Array(buffer),
    i16: new Int16Array(buffer),
    f64: new Float64Array(buffer),
  };
}
