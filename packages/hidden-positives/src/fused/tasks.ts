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
export const TASK_THRESHOLD = 9;
export const TASK_ROW_MAX = 10;

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
/** sims: a [rows, width] block of x[i0:] @ x[i0:]ᵀ from the host product (column j at j − i0), c its criteria. */
export const THRESHOLD_PARAMS = ['sims', 'width', 'i0', 'rows', 'n', 'c', 'bits', 'rowBytes'] as const;
/** sims: a [rows, q] block of similarities to the pool; out[r] its row maxima. */
export const ROW_MAX_PARAMS = ['sims', 'q', 'rows', 'out'] as const;
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
  'unitsPerSuper', // consecutive units whose extra columns are taken together
  'maxE', // bound on the extra entries of one super-unit
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

/** Calls `work(r0, r1)` for the chunks [r0, r1) of THRESHOLD_ROWS rows of a host-product block. */
function eachRowChunk(control: Control, rows: number, work: (r0: number, r1: number) => void): void {
  eachChunk(control, Math.ceil(rows / THRESHOLD_ROWS), (t) => {
    const r0 = t * THRESHOLD_ROWS;
    work(r0, Math.min(rows, r0 + THRESHOLD_ROWS));
  });
}

const ROWS_PER_STRIP = 16;
/** Columns per gradRows call: their rows (≤ 256 KiB at D = 512) stay in L2 across its passes. */
const GRAD_ROWS_COLUMNS = 128;
const FILL_CHUNK = 1 << 20;
/** Rows of a host-product block per chunk of the threshold and row-max tasks. */
const THRESHOLD_ROWS = 8;

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
    case TASK_THRESHOLD: {
      const p = readParams(control, THRESHOLD_PARAMS);
      eachRowChunk(control, p.rows, (r0, r1) =>
        k.threshold(p.sims, p.width, p.i0, r0, r1, p.n, p.c, p.bits, p.rowBytes),
      );
      return;
    }
    case TASK_ROW_MAX: {
      const p = readParams(control, ROW_MAX_PARAMS);
      eachRowChunk(control, p.rows, (r0, r1) => k.rowMax(p.sims, p.q, r0, r1, p.out));
      return;
    }
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

/**
 * Byte sizes of one thread's scratch area: `anchors` anchor offsets (the units of one super-unit),
 * a [batch, maxM] logits tile, and three arrays of `maxE` entries (the super-unit's extra logits in
 * anchor order; its anchor offsets and logits in column order).
 */
export function groupScratchBytes(anchors: number, batch: number, maxM: number, maxE: number): number {
  return align(anchors * 4) + align(batch * maxM * 4) + 3 * align(Math.max(1, maxE) * 4);
}

const ctz = (x: number) => 31 - Math.clz32(x & -x);

/**
 * Row groups r = thread, thread + threads, …: the B anchors {b·P + r} share row r of the negative
 * mask R (the official mask is drawn once as [P, N] and reused for every image), so their logits
 * against R_r form one [B, |R_r|] tile whose column rows are loaded once for all B anchors. Positives
 * outside R ("extra" columns: a few hundred per anchor on real features, more than |R_r|) are taken
 * per super-unit of `unitsPerSuper` consecutive row groups: the anchors b·P + r of one image b and
 * consecutive r are neighbours that share most of their positives, so their extra entries are sorted
 * by column and each column row x_j is read once for all of them (logits and both gradient products
 * then read the anchors' rows from cache instead of a column row from memory per entry).
 * Per anchor i, with ℓ = x_i · x_j / τ:
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
  const T = p.unitsPerSuper;
  const n = p.batch * p.p;
  const units = p.allCols ? Math.ceil(n / B) : p.p;
  const supers = Math.ceil(units / T);
  /** Unit u: its row r of R (every row is all columns when allCols) and its anchors first + b·step, b < count. */
  const unit = (u: number) =>
    p.allCols
      ? { r: 0, first: u * B, step: 1, count: Math.min(B, n - u * B) }
      : { r: u, first: u, step: p.p, count: B };
  const words = p.rowBytes / 4;
  const scratch = p.scratch + thread * p.scratchBytes;
  const E = align(Math.max(1, p.maxE) * 4);
  const iaPtr = scratch; // [T·B] i32 anchor row offsets, unit after unit
  const tilePtr = iaPtr + align(T * B * 4); // [B, m] f32 logits, then g
  const extraTilePtr = tilePtr + align(B * p.maxM * 4); // [E] f32 extra logits, then g, anchor order
  const invOffPtr = extraTilePtr + E; // [E] i32 anchor row offsets, column order
  const invValPtr = invOffPtr + E; // [E] f32 logits, then g, column order
  const accZ = p.acc + thread * p.accThreadBytes;
  const accMix = accZ + p.accThreadBytes / 2;
  const flags = new Uint8Array(T * B * p.maxM); // 0 self, 1 in R (so in A), +2 in M_ag, +4 in M_sp
  const extraFlags = new Uint8Array(Math.max(1, p.maxE)); // 2 in M_ag (so in A), 4 in M_sp
  const extraCol = new Int32Array(Math.max(1, p.maxE)); // column j of each extra entry
  const extraStart = new Int32Array(T * B + 1);
  const invEntry = new Int32Array(Math.max(1, p.maxE)); // column order → anchor order
  const slotStart = new Int32Array(Math.max(1, p.maxE) + 1);
  const slotCol = new Int32Array(Math.max(1, p.maxE));
  const colSlot = new Int32Array(n).fill(-1);
  const expTile = new Float64Array(Math.max(p.maxM, 1));
  const expExtra = new Float64Array(Math.max(1, p.maxE));
  const extraTile = extraTilePtr >>> 2;
  const invOff = invOffPtr >>> 2;
  const invVal = invValPtr >>> 2;
  let loss = 0;
  let extraEntries = 0;

  for (let su = thread; su < supers; su += threads) {
    const u0 = su * T;
    const u1 = Math.min(units, u0 + T);
    // 1. anchors, R-tile flags and extra columns of every unit of the super-unit
    let extras = 0;
    for (let u = u0; u < u1; u += 1) {
      const { r, first, step, count } = unit(u);
      const m = i32[(p.rLen >>> 2) + r]!;
      const colIdx = (p.rIdx >>> 2) + i32[(p.rStart >>> 2) + r]!;
      const rBitsRow = (p.rBits + r * p.rowBytes) >>> 2;
      for (let b = 0; b < B; b += 1) {
        const l = (u - u0) * B + b;
        extraStart[l] = extras;
        if (b >= count) continue;
        const a = first + b * step;
        i32[(iaPtr >>> 2) + l] = a * p.stride;
        if (f64[(p.coef >>> 3) + a] === 0) continue; // outside V: contributes exactly 0
        const agRow = (p.bitsAg + a * p.rowBytes) >>> 2;
        const spRow = p.bitsSp === 0 ? -1 : (p.bitsSp + a * p.rowBytes) >>> 2;
        const fl0 = l * p.maxM;
        for (let t = 0; t < m; t += 1) {
          const j = i32[colIdx + t]!;
          let fl = 0;
          if (j !== a) {
            const w = j >>> 5;
            const bit = 1 << (j & 31);
            fl = 1 | (i32[agRow + w]! & bit ? 2 : 0) | (spRow >= 0 && i32[spRow + w]! & bit ? 4 : 0);
          }
          flags[fl0 + t] = fl;
        }
        for (let w = 0; w < words; w += 1) {
          const ag = i32[agRow + w]!;
          const sp = spRow >= 0 ? i32[spRow + w]! : 0;
          let rest = (ag | sp) & ~i32[rBitsRow + w]!;
          while (rest !== 0) {
            const bit = rest & -rest;
            const j = w * 32 + ctz(rest);
            extraCol[extras] = j;
            extraFlags[extras] = (ag & bit ? 2 : 0) | (sp & bit ? 4 : 0);
            extras += 1;
            rest ^= bit;
          }
        }
      }
    }
    const nl = (u1 - u0) * B;
    extraStart[nl] = extras;
    extraEntries += extras;

    // 2. the extra entries sorted by column, per lane b (one image's consecutive anchors when sparse):
    //    slot s holds column slotCol[s] and the anchors invOff[slotStart[s] … slotStart[s + 1]) that use it
    let slots = 0;
    let placed = 0;
    for (let b = 0; b < B; b += 1) {
      const firstSlot = slots;
      for (let l = b; l < nl; l += B) {
        for (let e = extraStart[l]!; e < extraStart[l + 1]!; e += 1) {
          const j = extraCol[e]!;
          let s = colSlot[j]!;
          if (s < 0) {
            s = slots;
            colSlot[j] = s;
            slotCol[s] = j;
            slotStart[s + 1] = 0;
            slots += 1;
          }
          slotStart[s + 1] = slotStart[s + 1]! + 1;
        }
      }
      slotStart[firstSlot] = placed;
      for (let s = firstSlot; s < slots; s += 1) {
        slotStart[s + 1] = slotStart[s]! + slotStart[s + 1]!;
        colSlot[slotCol[s]!] = slotStart[s]!; // now the slot's fill cursor
      }
      for (let l = b; l < nl; l += B) {
        const ia = i32[(iaPtr >>> 2) + l]!;
        for (let e = extraStart[l]!; e < extraStart[l + 1]!; e += 1) {
          const j = extraCol[e]!;
          const q = colSlot[j]!;
          colSlot[j] = q + 1;
          i32[invOff + q] = ia;
          invEntry[q] = e;
        }
      }
      for (let s = firstSlot; s < slots; s += 1) colSlot[slotCol[s]!] = -1;
      placed = slotStart[slots]!;
    }

    for (const [x, acc] of [
      [p.z, accZ],
      [p.zMix, accMix],
    ] as const) {
      // 3. extra logits, one column row against the anchors that use it
      for (let s = 0; s < slots; s += 1) {
        const q0 = slotStart[s]!;
        k.dotsRow(
          x,
          slotCol[s]! * p.stride,
          invOffPtr + q0 * 4,
          slotStart[s + 1]! - q0,
          p.stride,
          invValPtr + q0 * 4,
          invTau,
        );
      }
      for (let q = 0; q < extras; q += 1) f32[extraTile + invEntry[q]!] = f32[invVal + q]!;

      // 4. per unit: the R tile, each anchor's loss and g, the tile's gradient products
      for (let u = u0; u < u1; u += 1) {
        const { r, first, step, count } = unit(u);
        const m = i32[(p.rLen >>> 2) + r]!;
        const colOffPtr = p.rOff + i32[(p.rStart >>> 2) + r]! * 4;
        const ia = iaPtr + (u - u0) * B * 4;
        k.dotsIndexed(x, ia, count, colOffPtr, m, p.stride, tilePtr, invTau);
        for (let b = 0; b < count; b += 1) {
          const a = first + b * step;
          const l = (u - u0) * B + b;
          const coef = f64[(p.coef >>> 3) + a]!;
          const row = (tilePtr >>> 2) + b * m;
          const e0 = extraStart[l]!;
          const e1 = extraStart[l + 1]!;
          if (coef === 0) {
            if (p.withGrad) f32.fill(0, row, row + m);
            continue;
          }
          const fl0 = l * p.maxM;
          let max = Number.NEGATIVE_INFINITY;
          for (let t = 0; t < m; t += 1)
            if (flags[fl0 + t]! !== 0 && f32[row + t]! > max) max = f32[row + t]!;
          for (let e = e0; e < e1; e += 1)
            if (extraFlags[e]! & 2 && f32[extraTile + e]! > max) max = f32[extraTile + e]!;
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
            const shifted = f32[extraTile + e]! - max;
            const ez = fl & 2 ? Math.exp(shifted) : 0;
            expExtra[e - e0] = ez;
            denom += ez;
            weighted += ((fl & 2 ? 1 : 0) + (fl & 4 ? lambda : 0)) * shifted;
          }
          const nw = f64[(p.weightSum >>> 3) + a]!;
          loss += coef * (weighted / nw - Math.log(denom));
          if (!p.withGrad) continue;
          const c = coef * invTau;
          const invN = 1 / nw;
          const invDenom = 1 / denom;
          for (let t = 0; t < m; t += 1) {
            const fl = flags[fl0 + t]!;
            f32[row + t] =
              fl === 0 ? 0 : c * (((fl & 2 ? 1 : 0) + (fl & 4 ? lambda : 0)) * invN - expTile[t]! * invDenom);
          }
          for (let e = e0; e < e1; e += 1) {
            const fl = extraFlags[e]!;
            f32[extraTile + e] =
              c * (((fl & 2 ? 1 : 0) + (fl & 4 ? lambda : 0)) * invN - expExtra[e - e0]! * invDenom);
          }
        }
        if (!p.withGrad) continue;
        for (let t0 = 0; t0 < m; t0 += GRAD_ROWS_COLUMNS) {
          const cols = Math.min(GRAD_ROWS_COLUMNS, m - t0);
          k.gradRows(x, ia, count, colOffPtr + t0 * 4, cols, p.stride, tilePtr + t0 * 4, acc, m);
        }
        k.gradCols(x, ia, count, colOffPtr, m, p.stride, tilePtr, acc);
      }
      if (!p.withGrad) continue;

      // 5. the extra entries' gradient products, one column row against the anchors that use it:
      //    acc_j += Σ g x_i over its anchors i, acc_i += g x_j
      for (let q = 0; q < extras; q += 1) f32[invVal + q] = f32[extraTile + invEntry[q]!]!;
      for (let s = 0; s < slots; s += 1) {
        const q0 = slotStart[s]!;
        k.gradRow(
          x,
          slotCol[s]! * p.stride,
          invOffPtr + q0 * 4,
          slotStart[s + 1]! - q0,
          p.stride,
          invValPtr + q0 * 4,
          acc,
        );
      }
    }
  }
  f64[(p.lossOut >>> 3) + 2 * thread] = loss;
  f64[(p.lossOut >>> 3) + 2 * thread + 1] = extraEntries;
}
