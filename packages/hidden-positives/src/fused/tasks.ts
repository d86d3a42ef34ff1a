/**
 * The work of one thread in each phase of the fused loss. Every thread of a pool (the driving thread
 * included) runs the same function on the same shared memory: phases with independent outputs take
 * chunks from a shared counter (dynamic, so a busy core does less); the phase that accumulates
 * gradients takes a fixed share of the row groups, so the result does not depend on timing.
 */
import { type Control, NEXT, readParams } from './control.js';
import { instantiateKernels, type Kernels, type WasmMemory, type WasmModule } from './kernels.js';

export const TASK_FILL = 1;
export const TASK_CRITERION = 2;
export const TASK_JOIN = 3;
export const TASK_COUNTS = 4;
export const TASK_GROUPS = 5;
export const TASK_REDUCE = 6;
export const TASK_QUANTIZE = 7;
export const TASK_MIX = 8;

export const FILL_PARAMS = ['ptr', 'bytes'] as const;
/** xq, pq: int16 copies of x and the pool (0: the float kernel alone), approx: [n + 4] f32 scratch; eps in f64[0]. */
export const CRITERION_PARAMS = [
  'x',
  'stride',
  'n',
  'pool',
  'q',
  'len',
  'out',
  'xq',
  'pq',
  'qStride',
  'approx',
] as const;
/** xq: int16 copy of x (0: the float kernel alone), qStride its row stride; the float `eps` in control.f64[0]. */
export const JOIN_PARAMS = [
  'x',
  'stride',
  'n',
  'c',
  'bits',
  'rowBytes',
  'len',
  'block',
  'xq',
  'qStride',
] as const;
export const JOIN_F64 = { eps: 0 } as const;
export const COUNTS_PARAMS = ['bitsAg', 'bitsSp', 'rowBytes', 'n', 'outAg', 'outSp'] as const;
export const REDUCE_PARAMS = ['acc', 'threadBytes', 'bytes', 'threads'] as const;
export const QUANTIZE_PARAMS = ['src', 'stride', 'dst', 'n', 'l1', 'sq'] as const;
export const GROUP_PARAMS = [
  'p', // P, anchors of one image; group r holds the anchors r, P + r, …, (B − 1)·P + r
  'batch', // B
  'z', // [N, stride] z (gradient path)
  'zMix', // [N, stride] z̃
  'stride', // row stride of z and z̃ in bytes (= len)
  'bitsAg', // [N, rowBytes] M_ag bit matrix (symmetric, no diagonal)
  'bitsSp', // [N, rowBytes] M_sp bit matrix, 0 when λ = 0
  'rowBytes',
  'rStart', // [P] i32: first entry of row r of the negative mask R in rIdx / rOff
  'rLen', // [P] i32: entries of row r
  'rIdx', // i32 column indices j of R, sorted per row
  'rOff', // i32 row offsets j · stride of the same
  'rBits', // [P, rowBytes] R as bits
  'coef', // [N] f64: −scale · w_i / |V| on valid anchors, 0 elsewhere
  'weightSum', // [N] f64: n_i = |M_ag,i| + λ |M_sp,i|
  'acc', // per thread: [2, N, stride] gradient accumulators for z and z̃
  'accThreadBytes',
  'scratch', // per thread: anchor offsets, logits tile, extra columns
  'scratchBytes',
  'maxM', // max_r |R_r|
  'allCols', // 1 when R keeps every column (ρ = 1): units are then blocks of `unitAnchors` consecutive anchors
  'unitAnchors', // anchors of one unit: B (row groups), or the block size when allCols
  'maxE', // bound on the extra columns of one group
  'withGrad',
  'lossOut', // [threads, 2] f64: partial loss, extra entries
] as const;
export const GROUP_F64 = { invTau: 0, lambda: 1 } as const;
/**
 * The LHP mix (local-mix.ts): x, out `[B·h·w, stride]` rows zero-padded to `len` bytes, weights `[B·h·w, 9]`
 * f32 in the window order (k = 3·(di + 1) + (dj + 1), row-major), zero: one zero row; adjoint 1 for the
 * gradient.
 */
export const MIX_PARAMS = [
  'x',
  'out',
  'weights',
  'zero',
  'batch',
  'h',
  'w',
  'stride',
  'len',
  'adjoint',
] as const;
/** Grid positions per chunk of the mix. */
const MIX_CHUNK = 64;

/** One thread's view of the shared memory and its instance of the kernels. */
export class ThreadContext {
  readonly kernels: Kernels;
  #buffer: ArrayBufferLike | undefined;
  #i32: Int32Array<ArrayBufferLike> = new Int32Array(0);
  #f32: Float32Array<ArrayBufferLike> = new Float32Array(0);
  #f64: Float64Array<ArrayBufferLike> = new Float64Array(0);
  #u8: Uint8Array<ArrayBufferLike> = new Uint8Array(0);

  constructor(
    module: WasmModule,
    readonly memory: WasmMemory,
  ) {
    this.kernels = instantiateKernels(module, memory);
  }

  /** Typed views of the memory, renewed after it grew. */
  views(): {
    i32: Int32Array<ArrayBufferLike>;
    f32: Float32Array<ArrayBufferLike>;
    f64: Float64Array<ArrayBufferLike>;
    u8: Uint8Array<ArrayBufferLike>;
  } {
    const buffer = this.memory.buffer;
    if (buffer !== this.#buffer || this.#u8.byteLength !== buffer.byteLength) {
      this.#buffer = buffer;
      this.#i32 = new Int32Array(buffer);
      this.#f32 = new Float32Array(buffer);
      this.#f64 = new Float64Array(buffer);
      this.#u8 = new Uint8Array(buffer);
    }
    return { i32: this.#i32, f32: this.#f32, f64: this.#f64, u8: this.#u8 };
  }
}

/** Calls `work(k)` for chunks k < count taken from the shared counter. */
function eachChunk(control: Control, count: number, work: (k: number) => void): void {
  for (let k = Atomics.add(control.i32, NEXT, 1); k < count; k = Atomics.add(control.i32, NEXT, 1)) work(k);
}

const ROWS_PER_STRIP = 16;
/** Columns per gradRows call: their rows (≤ 256 KiB at D = 512) stay in L2 across its passes. */
const GRAD_ROWS_COLUMNS = 128;
const FILL_CHUNK = 1 << 20;

export function runTask(
  ctx: ThreadContext,
  control: Control,
  task: number,
  thread: number,
  threads: number,
): void {
  const k = ctx.kernels;
  switch (task) {
    case TASK_FILL: {
      const p = readParams(control, FILL_PARAMS);
      const { u8 } = ctx.views();
      eachChunk(control, Math.ceil(p.bytes / FILL_CHUNK), (c) => {
        const start = p.ptr + c * FILL_CHUNK;
        u8.fill(0, start, Math.min(p.ptr + p.bytes, start + FILL_CHUNK));
      });
      return;
    }
    case TASK_CRITERION: {
      const p = readParams(control, CRITERION_PARAMS);
      const eps = control.f64[JOIN_F64.eps]!;
      eachChunk(control, Math.ceil(p.n / ROWS_PER_STRIP), (c) => {
        const i0 = c * ROWS_PER_STRIP;
        const i1 = Math.min(p.n, i0 + ROWS_PER_STRIP);
        if (p.xq === 0) k.criterion(p.x, p.stride, i0, i1, p.pool, p.q, p.len, p.out);
        else {
          k.criterionQuantized(
            p.xq,
            p.pq,
            p.qStride,
            p.x,
            p.pool,
            p.stride,
            p.len,
            i0,
            i1,
            p.q,
            p.out,
            p.approx,
            eps,
          );
        }
      });
      return;
    }
    case TASK_JOIN: {
      // Blocks (I, J ≥ I) of the upper triangle: column block J stays in L2 while the row strips of I pass.
      const p = readParams(control, JOIN_PARAMS);
      const eps = control.f64[JOIN_F64.eps]!;
      const blocks = Math.ceil(p.n / p.block);
      eachChunk(control, (blocks * (blocks + 1)) / 2, (u) => {
        let bi = 0;
        let rest = u;
        while (rest >= blocks - bi) {
          rest -= blocks - bi;
          bi += 1;
        }
        const bj = bi + rest;
        const iEnd = Math.min(p.n, (bi + 1) * p.block);
        const j0 = bj * p.block;
        const j1 = Math.min(p.n, j0 + p.block);
        for (let i0 = bi * p.block; i0 < iEnd; i0 += ROWS_PER_STRIP) {
          const i1 = Math.min(iEnd, i0 + ROWS_PER_STRIP);
          if (p.xq === 0) k.join(p.x, p.stride, i0, i1, j0, j1, p.c, p.bits, p.rowBytes, p.len);
          else {
            k.joinQuantized(
              p.xq,
              p.qStride,
              p.qStride,
              p.x,
              p.stride,
              p.len,
              i0,
              i1,
              j0,
              j1,
              p.c,
              p.bits,
              p.rowBytes,
              eps,
            );
          }
        }
      });
      return;
    }
    case TASK_MIX: {
      // out[pos] = Σ_k w · x[neighbour] in k order, term 0 first (forward: the neighbour pos + offset_k with the
      // weight of pos, a zero row outside; adjoint: the neighbour pos − offset_k with its own weight, a zero row
      // and weight 0 outside), as local-positives.ts's TF.js engine orders its Mul and Add.
      const p = readParams(control, MIX_PARAMS);
      const { f32 } = ctx.views();
      const hw = p.h * p.w;
      const n = p.batch * hw;
      const wBase = p.weights >>> 2;
      const sign = p.adjoint === 1 ? -1 : 1;
      eachChunk(control, Math.ceil(n / MIX_CHUNK), (c) => {
        const end = Math.min(n, (c + 1) * MIX_CHUNK);
        for (let pos = c * MIX_CHUNK; pos < end; pos += 1) {
          const b = Math.floor(pos / hw);
          const i = Math.floor((pos - b * hw) / p.w);
          const j = pos - b * hw - i * p.w;
          const out = p.out + pos * p.stride;
          for (let t = 0; t < 9; t += 1) {
            const ii = i + sign * (Math.floor(t / 3) - 1);
            const jj = j + sign * ((t % 3) - 1);
            const inside = ii >= 0 && ii < p.h && jj >= 0 && jj < p.w;
            const other = (b * p.h + ii) * p.w + jj;
            let src = p.zero;
            let weight = 0;
            if (p.adjoint === 1) {
              if (inside) {
                src = p.x + other * p.stride;
                weight = f32[wBase + other * 9 + t]!;
              }
            } else {
              weight = f32[wBase + pos * 9 + t]!;
              if (inside) src = p.x + other * p.stride;
            }
            k.scaleAddRow(out, src, weight, p.len, t === 0 ? 1 : 0);
          }
        }
      });
      return;
    }
    case TASK_COUNTS: {
      const p = readParams(control, COUNTS_PARAMS);
      const rows = 256;
      eachChunk(control, Math.ceil(p.n / rows), (c) => {
        const i0 = c * rows;
        const i1 = Math.min(p.n, i0 + rows);
        k.popcountRows(p.bitsAg, p.rowBytes, i0, i1, p.outAg);
        if (p.bitsSp !== 0) k.popcountRows(p.bitsSp, p.rowBytes, i0, i1, p.outSp);
      });
      return;
    }
    case TASK_QUANTIZE: {
      const p = readParams(control, QUANTIZE_PARAMS);
      const rows = 64;
      eachChunk(control, Math.ceil(p.n / rows), (c) => {
        const i0 = c * rows;
        k.quantizeRows(p.src, p.stride, p.dst, i0, Math.min(p.n, i0 + rows), p.stride, p.l1, p.sq);
      });
      return;
    }
    case TASK_GROUPS:
      runGroups(ctx, control, thread, threads);
      return;
    case TASK_REDUCE: {
      // acc_0 += acc_t for t ≥ 1, both terms, in thread order (the same order for every chunk).
      const p = readParams(control, REDUCE_PARAMS);
      const chunk = 1 << 16;
      eachChunk(control, Math.ceil(p.bytes / chunk), (c) => {
        const start = c * chunk;
        const bytes = Math.min(chunk, p.bytes - start);
        for (let t = 1; t < p.threads; t += 1)
          k.addInto(p.acc + start, p.acc + t * p.threadBytes + start, bytes);
      });
      return;
    }
    default:
      throw new Error(`unknown fused-loss task ${task}`);
  }
}

const align = (bytes: number) => Math.ceil(bytes / 64) * 64;

/** Byte sizes of one thread's scratch area for groups of `batch` anchors. */
export function groupScratchBytes(batch: number, maxM: number, maxE: number): number {
  return align(batch * 4) + align(batch * maxM * 4) + 2 * align(Math.max(1, maxE) * 4);
}

const ctz = (x: number) => 31 - Math.clz32(x & -x);

/**
 * Row groups r = thread, thread + threads, …: the B anchors {b·P + r} share row r of the negative
 * mask R (the official mask is drawn once as [P, N] and reused for every image), so their logits
 * against R_r form one [B, |R_r|] tile whose column rows are loaded once for all B anchors. Positives
 * outside R_r ("extra" columns, rare) are handled per anchor. Per anchor i, with ℓ = x_i · x_j / τ:
 *   m_i = max_{j∈A_i} ℓ_ij (any shift cancels; this one keeps every exponent ≤ 0),
 *   d_i = Σ_{j∈A_i} e^{ℓ_ij − m_i},  mlp_i = Σ_j W_ij (ℓ_ij − m_i) / n_i − log d_i,
 *   loss += coef_i · mlp_i,  g_ij = coef_i / τ · (W_ij / n_i − [j∈A_i] e^{ℓ_ij − m_i} / d_i),
 * and the gradient rows dL/dx_i += Σ_j g_ij x_j, dL/dx_j += g_ij x_i (the same as the TF.js engine's
 * contrastTerm, restricted to the entries where A or W is non-zero: g is zero everywhere else).
 */
function runGroups(ctx: ThreadContext, control: Control, thread: number, threads: number): void {
  const p = readParams(control, GROUP_PARAMS);
  const invTau = control.f64[GROUP_F64.invTau]!;
  const lambda = control.f64[GROUP_F64.lambda]!;
  const k = ctx.kernels;
  const { i32, f32, f64 } = ctx.views();
  // A unit is an arithmetic run of anchors that share one column list: the row group {b·P + r} (start r,
  // step P, B anchors) of row r of R, or with every column kept (ρ = 1) a block of consecutive anchors,
  // whose logits are then a dense tile with far more reuse of each column row.
  const B = p.unitAnchors;
  const n = p.batch * p.p;
  const units = p.allCols ? Math.ceil(n / B) : p.p;
  const words = p.rowBytes / 4;
  const scratch = p.scratch + thread * p.scratchBytes;
  const iaPtr = scratch; // [B] i32 anchor row offsets
  const tilePtr = iaPtr + align(B * 4); // [B, m] f32 logits, then g
  const extraOffPtr = tilePtr + align(B * p.maxM * 4); // [E] i32 extra column offsets
  const extraTilePtr = extraOffPtr + align(Math.max(1, p.maxE) * 4); // [E] f32 extra logits, then g
  const accZ = p.acc + thread * p.accThreadBytes;
  const accMix = accZ + p.accThreadBytes / 2;
  const flags = new Uint8Array(B * p.maxM); // 0 self, 1 in R (so in A), +2 in M_ag, +4 in M_sp
  const extraFlags = new Uint8Array(Math.max(1, p.maxE)); // 2 in M_ag (so in A), 4 in M_sp
  const extraStart = new Int32Array(B + 1);
  const expTile = new Float64Array(Math.max(p.maxM, p.maxE, 1));
  const expExtra = new Float64Array(Math.max(1, p.maxE));
  let loss = 0;
  let extraEntries = 0;

  for (let u = thread; u < units; u += threads) {
    const r = p.allCols ? 0 : u; // the row of R the unit's anchors use (every row is all columns when allCols)
    const first = p.allCols ? u * B : u;
    const step = p.allCols ? 1 : p.p;
    const count = p.allCols ? Math.min(B, n - first) : B;
    const m = i32[(p.rLen >>> 2) + r]!;
    const start = i32[(p.rStart >>> 2) + r]!;
    const colIdx = (p.rIdx >>> 2) + start;
    const colOffPtr = p.rOff + start * 4;
    const rBitsRow = (p.rBits + r * p.rowBytes) >>> 2;
    let extras = 0;
    for (let b = 0; b < count; b += 1) {
      const a = first + b * step;
      i32[(iaPtr >>> 2) + b] = a * p.stride;
      extraStart[b] = extras;
      if (f64[(p.coef >>> 3) + a] === 0) continue; // outside V: contributes exactly 0
      const agRow = (p.bitsAg + a * p.rowBytes) >>> 2;
      const spRow = p.bitsSp === 0 ? -1 : (p.bitsSp + a * p.rowBytes) >>> 2;
      for (let t = 0; t < m; t += 1) {
        const j = i32[colIdx + t]!;
        let fl = 0;
        if (j !== a) {
          const w = j >>> 5;
          const bit = 1 << (j & 31);
          fl = 1 | (i32[agRow + w]! & bit ? 2 : 0) | (spRow >= 0 && i32[spRow + w]! & bit ? 4 : 0);
        }
        flags[b * m + t] = fl;
      }
      for (let w = 0; w < words; w += 1) {
        const ag = i32[agRow + w]!;
        const sp = spRow >= 0 ? i32[spRow + w]! : 0;
        let rest = (ag | sp) & ~i32[rBitsRow + w]!;
        while (rest !== 0) {
          const bit = rest & -rest;
          const j = w * 32 + ctz(rest);
          i32[(extraOffPtr >>> 2) + extras] = j * p.stride;
          extraFlags[extras] = (ag & bit ? 2 : 0) | (sp & bit ? 4 : 0);
          extras += 1;
          rest ^= bit;
        }
      }
    }
    extraStart[count] = extras;
    extraEntries += extras;

    for (const [x, acc] of [
      [p.z, accZ],
      [p.zMix, accMix],
    ] as const) {
      k.dotsIndexed(x, iaPtr, count, colOffPtr, m, p.stride, tilePtr, invTau);
      for (let b = 0; b < count; b += 1) {
        const e0 = extraStart[b]!;
        const ne = extraStart[b + 1]! - e0;
        if (ne > 0) {
          const a = first + b * step;
          k.dotsRow(x, a * p.stride, extraOffPtr + e0 * 4, ne, p.stride, extraTilePtr + e0 * 4, invTau);
        }
      }
      for (let b = 0; b < count; b += 1) {
        const a = first + b * step;
        const coef = f64[(p.coef >>> 3) + a]!;
        const row = (tilePtr >>> 2) + b * m;
        const e0 = extraStart[b]!;
        const e1 = extraStart[b + 1]!;
        const ex = (extraTilePtr >>> 2) + e0;
        if (coef === 0) {
          if (p.withGrad) f32.fill(0, row, row + m);
          continue;
        }
        const fl0 = b * m;
        let max = Number.NEGATIVE_INFINITY;
        for (let t = 0; t < m; t += 1) if (flags[fl0 + t]! !== 0 && f32[row + t]! > max) max = f32[row + t]!;
        for (let e = e0; e < e1; e += 1)
          if (extraFlags[e]! & 2 && f32[ex + e - e0]! > max) max = f32[ex + e - e0]!;
        let denom = 0;
        let weighted = 0;
        for (let t = 0; t < m; t += 1) {
          const fl = flags[fl0 + t]!;
          if (fl === 0) continue;
          const shifted = f32[row + t]! - max;
          const ez = Math.exp(shifted);
          expTile[t] = ez;
          denom += ez;
          if (fl > 1) weighted += ((fl & 2 ? 1 : 0) + (fl & 4 ? lambda : 0)) * shifted;
        }
        for (let e = e0; e < e1; e += 1) {
          const fl = extraFlags[e]!;
          const shifted = f32[ex + e - e0]! - max;
          const ez = fl & 2 ? Math.exp(shifted) : 0;
          expExtra[e - e0] = ez;
          denom += ez;
          weighted += ((fl & 2 ? 1 : 0) + (fl & 4 ? lambda : 0)) * shifted;
        }
        const n = f64[(p.weightSum >>> 3) + a]!;
        loss += coef * (weighted / n - Math.log(denom));
        if (!p.withGrad) continue;
        const c = coef * invTau;
        const invN = 1 / n;
        const invDenom = 1 / denom;
        for (let t = 0; t < m; t += 1) {
          const fl = flags[fl0 + t]!;
          f32[row + t] =
            fl === 0 ? 0 : c * (((fl & 2 ? 1 : 0) + (fl & 4 ? lambda : 0)) * invN - expTile[t]! * invDenom);
        }
        for (let e = e0; e < e1; e += 1) {
          const fl = extraFlags[e]!;
          f32[ex + e - e0] =
            c * (((fl & 2 ? 1 : 0) + (fl & 4 ? lambda : 0)) * invN - expExtra[e - e0]! * invDenom);
        }
      }
      if (!p.withGrad) continue;
      for (let t0 = 0; t0 < m; t0 += GRAD_ROWS_COLUMNS) {
        const cols = Math.min(GRAD_ROWS_COLUMNS, m - t0);
        k.gradRows(x, iaPtr, count, colOffPtr + t0 * 4, cols, p.stride, tilePtr + t0 * 4, acc, m);
      }
      k.gradCols(x, iaPtr, count, colOffPtr, m, p.stride, tilePtr, acc);
      for (let b = 0; b < count; b += 1) {
        const e0 = extraStart[b]!;
        const ne = extraStart[b + 1]! - e0;
        if (ne > 0) {
          const a = first + b * step;
          k.gradRow(x, a * p.stride, extraOffPtr + e0 * 4, ne, p.stride, extraTilePtr + e0 * 4, acc);
        }
      }
    }
  }
  f64[(p.lossOut >>> 3) + 2 * thread] = loss;
  f64[(p.lossOut >>> 3) + 2 * thread + 1] = extraEntries;
}
