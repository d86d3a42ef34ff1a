import {
  assertInt,
  assertNumber,
  assertShape,
  describeValue,
  HpError,
  l2Normalize,
  randomSeed,
} from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { fusedLossSupported, HOST_BACKENDS } from './fused/engine.js';
import { fusedLossOnTensors } from './fused/tensors.js';
import { type GridSize, parseGrid } from './grid.js';

/** `tf.tidy` for an object result that may hold nulls and numbers besides tensors (kept as usual). */
function tidyObject<T extends object>(fn: () => T): T {
  return tf.tidy(fn as unknown as () => tf.TensorContainer) as unknown as T;
}

/**
 * How `hiddenPositiveLoss` computes: `'tfjs'` with TF.js ops on the active backend (no host reads, so
 * it runs on GPU backends); `'fused'` with the WebAssembly kernels of the fused engine on host copies of
 * the inputs (sparse in the sampled negatives, multi-threaded after `initFusedLoss`); `'auto'` the
 * fused engine on the `wasm` and `cpu` backends and TF.js ops on every other.
 */
export type HiddenPositiveLossEngine = 'auto' | 'tfjs' | 'fused';

export const HIDDEN_POSITIVE_LOSS_ENGINES: readonly HiddenPositiveLossEngine[] = ['auto', 'tfjs', 'fused'];

/** The engine `engine: 'auto'` resolves to on the active backend. */
export function resolveLossEngine(engine: HiddenPositiveLossEngine = 'auto'): 'tfjs' | 'fused' {
  if (engine !== 'auto') return engine;
  return HOST_BACKENDS.has(tf.getBackend()) && fusedLossSupported() ? 'fused' : 'tfjs';
}

/** SupCon's default base temperature; the official loss is scaled by τ / 0.07 (`loss.py:164-169`). */
export const BASE_TEMPERATURE = 0.07;

export interface HiddenPositiveLossInputs {
  /** `[N, D]` L2-normalised projections z = normalize(Z(s)) of the online head; gradient flows. */
  readonly z: tf.Tensor2D;
  /** `[N, D]` L2-normalised projections z̃ = normalize(Z(s_mix)) of the LHP-mixed head output; gradient flows. */
  readonly zMix: tf.Tensor2D;
  /** `[N, C]` backbone features f̂ selecting task-agnostic positives (normalised here; no gradient). */
  readonly featBackbone: tf.Tensor2D;
  /** `[N, D′]` momentum-head outputs ŝ′ selecting task-specific positives (normalised here; no gradient). */
  readonly codeMomentum: tf.Tensor2D;
  /** `[Q, C]` task-agnostic reference pool Q_ag (normalised here). */
  readonly poolAgnostic: tf.Tensor2D;
  /** `[Q′, D′]` task-specific reference pool Q_sp (normalised here). */
  readonly poolSpecific: tf.Tensor2D;
  /** Weight λ of the task-specific positives (`lambdaSchedule`); 0 skips their computation. */
  readonly lambda: number;
  /** Temperature τ (official `tau`). */
  readonly temperature: number;
  /** ρ: Bernoulli keep ratio of the sampled negatives (official `rho`); 1 = every token. Default 1. */
  readonly negativeKeepRatio?: number;
  /**
   * The Bernoulli draw itself, `[P, N]` (0/1 numbers or bool), reused for every image block, as the
   * official `mask_neglect_base`. Overrides `negativeKeepRatio`.
   */
  readonly negativeMask?: tf.Tensor2D;
  /** Patch grid of one image; P = h·w rows form one image block. */
  readonly gridSize: GridSize;
  /** Seed of the Bernoulli(ρ) draw when ρ < 1 and no mask is given. */
  readonly seed?: number;
  /** Engine (see `HiddenPositiveLossEngine`); default `'auto'`. Both give the same loss and gradients. */
  readonly engine?: HiddenPositiveLossEngine;
}

interface Prepared {
  readonly batch: number;
  readonly p: number;
  readonly n: number;
  readonly lambda: number;
  readonly tau: number;
  /** (τ / 0.07) / (B · 2): the official scale and final division folded together. */
  readonly scale: number;
  readonly f: tf.Tensor2D; // [N, C] normalised
  readonly fT: tf.Tensor2D; // [C, N]
  readonly cAg: tf.Tensor2D; // [1, N] criterion c_ag
  readonly s: tf.Tensor2D | null; // [N, D'] normalised (null when λ = 0)
  readonly sT: tf.Tensor2D | null; // [D', N]
  readonly cSp: tf.Tensor2D | null; // [1, N]
  readonly keep: tf.Tensor2D | null; // [P, N] float 0/1 Bernoulli(ρ) draw, null when ρ = 1
  readonly notEye: tf.Tensor2D; // [P, P] float, 0 on the diagonal
}

/** c[j] = max_q x_j · q over the pool, computed in row blocks of P (never an [N, Q] matrix at once). */
function criterion(x: tf.Tensor2D, poolT: tf.Tensor2D, p: number, batch: number): tf.Tensor2D {
  const parts: tf.Tensor1D[] = [];
  try {
    for (let b = 0; b < batch; b += 1) {
      parts.push(tf.tidy(() => tf.max(tf.matMul(tf.slice(x, [b * p, 0], [p, -1]), poolT), 1) as tf.Tensor1D));
    }
    return tf.tidy(() => tf.reshape(tf.concat(parts), [1, -1]) as tf.Tensor2D); // [1, N]
  } finally {
    for (const t of parts) t.dispose();
  }
}

function validate(inputs: HiddenPositiveLossInputs): { batch: number; p: number; n: number } {
  const fn = 'hiddenPositiveLoss';
  if (typeof inputs !== 'object' || inputs === null) {
    throw new HpError('E_ARG', `${fn}: expected an object of inputs, got ${describeValue(inputs)}`);
  }
  const [h, w] = parseGrid(fn, inputs.gridSize);
  const p = h * w;
  const isTensor = (t: unknown): t is tf.Tensor => t instanceof tf.Tensor;
  for (const key of ['z', 'zMix', 'featBackbone', 'codeMomentum', 'poolAgnostic', 'poolSpecific'] as const) {
    if (!isTensor(inputs[key])) {
      throw new HpError('E_ARG', `${fn}: ${key} must be a tensor, got ${describeValue(inputs[key])}`);
    }
  }
  let dims = assertShape(fn, 'z', inputs.z.shape, ['N', 'D']);
  dims = assertShape(fn, 'zMix', inputs.zMix.shape, ['N', 'D'], dims);
  dims = assertShape(fn, 'featBackbone', inputs.featBackbone.shape, ['N', 'C'], dims);
  dims = assertShape(fn, 'codeMomentum', inputs.codeMomentum.shape, ['N', 'Dm'], dims);
  dims = assertShape(fn, 'poolAgnostic', inputs.poolAgnostic.shape, [null, 'C'], dims);
  dims = assertShape(fn, 'poolSpecific', inputs.poolSpecific.shape, [null, 'Dm'], dims);
  const n = dims.N!;
  if (n % p !== 0 || n === 0) {
    throw new HpError(
      'E_SHAPE',
      `${fn}: N must be a whole number of images: expected a multiple of P = ${h}·${w} = ${p}, got N = ${n}`,
    );
  }
  if (inputs.poolAgnostic.shape[0] === 0 || inputs.poolSpecific.shape[0] === 0) {
    throw new HpError('E_SHAPE', `${fn}: the reference pools must not be empty, got Q = 0`);
  }
  assertNumber(fn, 'lambda', inputs.lambda, 0);
  assertNumber(fn, 'temperature', inputs.temperature, Number.MIN_VALUE);
  if (inputs.negativeMask !== undefined) {
    if (!isTensor(inputs.negativeMask)) {
      throw new HpError(
        'E_ARG',
        `${fn}: negativeMask must be a tensor, got ${describeValue(inputs.negativeMask)}`,
      );
    }
    assertShape(fn, 'negativeMask', inputs.negativeMask.shape, [p, n]);
  } else if (inputs.negativeKeepRatio !== undefined) {
    const rho = inputs.negativeKeepRatio;
    if (typeof rho !== 'number' || !(rho > 0 && rho <= 1)) {
      throw new HpError(
        'E_ARG',
        `${fn}: negativeKeepRatio is invalid: expected ρ in (0, 1], got ${describeValue(rho)}`,
      );
    }
  }
  if (inputs.seed !== undefined) assertInt(fn, 'seed', inputs.seed);
  if (inputs.engine !== undefined && !HIDDEN_POSITIVE_LOSS_ENGINES.includes(inputs.engine)) {
    throw new HpError(
      'E_ARG',
      `${fn}: engine is invalid: expected one of ${HIDDEN_POSITIVE_LOSS_ENGINES.map((e) => `'${e}'`).join(', ')}, got ${describeValue(inputs.engine)}`,
    );
  }
  if (inputs.engine === 'fused' && !fusedLossSupported()) {
    throw new HpError(
      'E_BACKEND',
      `${fn}: engine 'fused' is not available here: expected WebAssembly with shared memory (SharedArrayBuffer), got none. Use engine: 'tfjs'.`,
    );
  }
  return { batch: n / p, p, n };
}

function prepare(inputs: HiddenPositiveLossInputs, batch: number, p: number, n: number): Prepared {
  const lambda = inputs.lambda;
  const tau = inputs.temperature;
  return tidyObject((): Prepared => {
    const f = l2Normalize(inputs.featBackbone);
    const cAg = criterion(f, tf.transpose(l2Normalize(inputs.poolAgnostic)), p, batch);
    let s: tf.Tensor2D | null = null;
    let cSp: tf.Tensor2D | null = null;
    if (lambda !== 0) {
      s = l2Normalize(inputs.codeMomentum);
      cSp = criterion(s, tf.transpose(l2Normalize(inputs.poolSpecific)), p, batch);
    }
    let keep: tf.Tensor2D | null = null;
    if (inputs.negativeMask !== undefined) {
      keep = tf.cast(tf.notEqual(inputs.negativeMask, 0), 'float32') as tf.Tensor2D;
    } else {
      const rho = inputs.negativeKeepRatio ?? 1;
      if (rho < 1) {
        const u = tf.randomUniform([p, n], 0, 1, 'float32', inputs.seed ?? randomSeed());
        keep = tf.cast(tf.less(u, rho), 'float32') as tf.Tensor2D; // R[r, j] = 1[u < ρ]
      }
    }
    return {
      batch,
      p,
      n,
      lambda,
      tau,
      scale: tau / BASE_TEMPERATURE / (batch * 2),
      f,
      fT: tf.transpose(f),
      cAg,
      s,
      sT: s === null ? null : tf.transpose(s),
      cSp,
      keep,
      notEye: tf.sub(1, tf.eye(p)) as tf.Tensor2D,
    };
  });
}

function disposePrepared(pr: Prepared): void {
  for (const t of [pr.f, pr.fT, pr.cAg, pr.s, pr.sT, pr.cSp, pr.keep, pr.notEye]) t?.dispose();
}

/**
 * Runs `fn` in its own scope and disposes `inputs` afterwards: one step of a chain of `[P, N]`
 * operations, so that only the matrices still needed stay alive (a single `tf.tidy` around a whole
 * block would keep every intermediate until the block ends).
 */
function stage<T extends tf.Tensor>(fn: () => T, ...inputs: (tf.Tensor | null)[]): T {
  const out = tf.tidy(fn);
  for (const t of inputs) t?.dispose();
  return out;
}

/**
 * Symmetric positive mask of one block as float 0/1, self not yet excluded:
 * `x_i·x_j > c_i OR x_i·x_j > c_j` (strict, as the official `Rpoint < cossim`), computed as
 * `step(max(sim − c_i, sim − c_j))`, which is exact in IEEE arithmetic (a − b > 0 ⇔ a > b). Written
 * with arithmetic broadcasts and a unary step because wasm's comparison kernels are slow when they
 * broadcast. `[P, N]`.
 */
function positives(x: tf.Tensor2D, xT: tf.Tensor2D, c: tf.Tensor2D, b: number, p: number): tf.Tensor2D {
  const sim = stage(() => tf.matMul(tf.slice(x, [b * p, 0], [p, -1]), xT)); // [P, N]
  const overRow = stage(
    () => tf.sub(sim, tf.reshape(tf.slice(c, [0, b * p], [1, p]), [p, 1])) as tf.Tensor2D,
  );
  const overCol = stage(() => tf.sub(sim, c) as tf.Tensor2D, sim);
  const over = stage(() => tf.maximum(overRow, overCol) as tf.Tensor2D, overRow, overCol);
  return stage(() => tf.step(over) as tf.Tensor2D, over);
}

/** Per-block constants shared by the GHP and LHP terms. */
interface BlockMasks {
  /** Positive weights W = M_ag + λ M_sp, divided by their row sum n_i: `[P, N]`. */
  readonly wNorm: tf.Tensor2D;
  /** Contrast set A (float 0/1), `[P, N]`. */
  readonly contrast: tf.Tensor2D;
  /** −scale · w_i / |V_b| for valid anchors, 0 otherwise: `[P, 1]`. */
  readonly coef: tf.Tensor2D;
  /** 1 on anchors without a task-agnostic positive (not in V_b), 0 otherwise: `[P, 1]`. */
  readonly invalid: tf.Tensor2D;
}

/**
 * Masks of image block b. No host reads (the path must run on WebGPU, where synchronous reads fail): an
 * image whose anchors all lack a task-agnostic positive is not skipped but gets coef = 0 on every row,
 * which makes its loss and gradient contributions exactly 0 (every factor they multiply stays finite).
 */
function blockMasks(pr: Prepared, b: number): BlockMasks {
  const { p, n } = pr;
  const notSelf = stage(() => {
    const parts: tf.Tensor[] = [];
    if (b > 0) parts.push(tf.ones([p, b * p]));
    parts.push(pr.notEye);
    if ((b + 1) * p < n) parts.push(tf.ones([p, n - (b + 1) * p]));
    return (parts.length === 1 ? tf.clone(pr.notEye) : tf.concat(parts, 1)) as tf.Tensor2D;
  }); // [P, N] float, 0 at (r, b·P + r)
  const agRaw = positives(pr.f, pr.fT, pr.cAg, b, p);
  const contrast = stage(() =>
    pr.keep === null ? tf.clone(notSelf) : (tf.mul(tf.maximum(agRaw, pr.keep), notSelf) as tf.Tensor2D),
  ); // A = not-self AND (M_ag OR R)
  const mAg = stage(() => tf.mul(agRaw, notSelf) as tf.Tensor2D, agRaw); // [P, N]
  const valid = stage(() => tf.step(tf.sum(mAg, 1, true)) as tf.Tensor2D); // [P, 1]
  let weight = mAg;
  if (pr.s !== null && pr.sT !== null && pr.cSp !== null) {
    const spRaw = positives(pr.s, pr.sT, pr.cSp, b, p);
    const mSp = stage(() => tf.mul(spRaw, notSelf) as tf.Tensor2D, spRaw);
    weight = stage(() => tf.add(mAg, tf.mul(mSp, pr.lambda)) as tf.Tensor2D, mAg, mSp); // W = M_ag + λ M_sp
  }
  notSelf.dispose();
  const count = stage(() => tf.sum(weight, 1, true) as tf.Tensor2D); // n_i, [P, 1]
  // coef_i = −scale · w_i / |V| with w_i = n_i / mean_{k∈V} n_k ("pnm"), i.e. −scale · n_i / Σ_{k∈V} n_k:
  // |V| cancels. Σ_{k∈V} n_k ≥ 1 when V is non-empty (each valid n_k ≥ 1) and 0 when it is empty, where
  // max(·, 1) keeps the division finite and every coef is 0.
  const coef = stage(() => {
    const validCount = tf.mul(count, valid); // n_i on valid anchors, 0 elsewhere
    const total = tf.maximum(tf.sum(validCount), 1); // Σ_{k∈V} n_k
    return tf.mul(validCount, tf.div(-pr.scale, total)) as tf.Tensor2D; // [P, 1]
  });
  const invalid = stage(() => tf.sub(1, valid) as tf.Tensor2D, valid);
  // n_i = 0 only on rows without any positive, whose coef is 0.
  const wNorm = stage(() => tf.div(weight, tf.maximum(count, 1e-30)) as tf.Tensor2D, weight, count);
  return { wNorm, contrast, coef, invalid };
}

/** One contrastive term of one block: its loss and, when requested, its gradient pieces. */
interface TermResult {
  readonly loss: tf.Scalar;
  /** Gradient w.r.t. the anchor rows x_b, `[P, D]`; null when gradients are not requested. */
  readonly dRows: tf.Tensor2D | null;
  /** Gradient contribution w.r.t. every row, transposed, `[D, N]`. */
  readonly dColsT: tf.Tensor2D | null;
}

/**
 * One contrastive term (GHP on z or LHP on z̃) of block b, with its exact gradient:
 * loss = Σ_i coef_i · Σ_j Wn_ij (ℓ_ij − lse_i) with ℓ = x_b xᵀ / τ, lse_i = log Σ_k A_ik e^{ℓ_ik}
 * (the detached row max cancels), and dloss/dℓ = coef_i (Wn_ij − A_ij e^{ℓ_ij} / Σ_k A_ik e^{ℓ_ik}).
 * All matmuls are 2-D and untransposed (XNNPACK on wasm).
 */
function contrastTerm(
  x: tf.Tensor2D,
  xT: tf.Tensor2D,
  masks: BlockMasks,
  pr: Prepared,
  b: number,
  withGrad: boolean,
): TermResult {
  const invTau = 1 / pr.tau;
  const shifted = stage(() => {
    const logits = tf.matMul(tf.mul(tf.slice(x, [b * pr.p, 0], [pr.p, -1]), invTau), xT); // [P, N]
    return tf.sub(logits, tf.max(logits, 1, true)) as tf.Tensor2D; // ℓ − max ℓ (numerical only)
  });
  const expA = stage(() => tf.mul(tf.exp(shifted), masks.contrast) as tf.Tensor2D); // A ⊙ e^ℓ
  // Σ_k A_ik e^{ℓ_ik}, [P, 1]. An anchor outside V may have an empty contrast set (denominator 0, log 0 =
  // −∞, and 0 · ∞ = NaN even with coef 0): adding 1 there keeps it finite; valid anchors get + 0 (exact).
  const denom = stage(() => tf.add(tf.sum(expA, 1, true), masks.invalid) as tf.Tensor2D);
  const loss = stage(() => {
    const meanLogProb = tf.sub(tf.sum(tf.mul(masks.wNorm, shifted), 1, true), tf.log(denom)); // mlp_i
    return tf.sum(tf.mul(masks.coef, meanLogProb)) as tf.Scalar;
  }, shifted);
  if (!withGrad) {
    tf.dispose([expA, denom]);
    return { loss, dRows: null, dColsT: null };
  }
  const g = stage(
    () => tf.mul(tf.sub(masks.wNorm, tf.div(expA, denom)), tf.mul(masks.coef, invTau)) as tf.Tensor2D,
    expA,
    denom,
  ); // dloss/dℓ / τ, [P, N]
  const dRows = stage(() => tf.matMul(g, x) as tf.Tensor2D); // [P, D]
  const dColsT = stage(() => tf.matMul(tf.slice(xT, [0, b * pr.p], [-1, pr.p]), g) as tf.Tensor2D, g); // [D, N]
  return { loss, dRows, dColsT };
}

/** True when a gradient tape is recording (inside `tf.grads`, `variableGrads`, `minimize`). */
function gradientsRequested(): boolean {
  const state = (tf.engine() as unknown as { state?: { gradientDepth?: number } }).state;
  return state?.gradientDepth === undefined ? true : state.gradientDepth > 0;
}

/**
 * The hidden-positive objective of the official code (`loss.py` SupConLoss, loss_version 1,
 * reweighting 1; official-behaviour §3.3–3.7): GHP on z and LHP on z̃ with the same positive weights
 * W = M_ag + λ M_sp, contrast set A, valid anchors V and reweighting w; summed over image blocks,
 * divided by B·2. Returns a scalar whose gradient w.r.t. z and zMix is exact (computed block by
 * block in the forward pass under `tf.customGrad`); the selection inputs get no gradient.
 *
 * Two engines compute it (`inputs.engine`, see `HiddenPositiveLossEngine`): TF.js ops, where one
 * `[P, N]` block per matrix is alive at a time, or the fused WebAssembly engine (src/fused/), which is
 * sparse in the sampled negatives. Images whose anchors all lack a task-agnostic positive contribute 0
 * (the official code takes the mean of an empty tensor there, which is NaN in PyTorch and poisons the
 * whole batch; see README).
 */
export function hiddenPositiveLoss(inputs: HiddenPositiveLossInputs): tf.Scalar {
  const { batch, p, n } = validate(inputs);
  const withGrad = gradientsRequested();
  const engine = resolveLossEngine(inputs.engine);
  const scale = inputs.temperature / BASE_TEMPERATURE / (batch * 2);
  const run = (z: tf.Tensor2D, zMix: tf.Tensor2D) => {
    if (engine === 'fused') return fusedLossOnTensors(inputs, z, zMix, { batch, p, n, scale }, withGrad);
    const pr = prepare(inputs, batch, p, n);
    const zT = tf.transpose(z);
    const zMixT = tf.transpose(zMix);
    let loss: tf.Scalar = tf.scalar(0);
    let dZT: tf.Tensor2D | null = null;
    let dMixT: tf.Tensor2D | null = null;
    const dZRows: tf.Tensor2D[] = [];
    const dMixRows: tf.Tensor2D[] = [];
    const accumulate = (acc: tf.Tensor2D | null, add: tf.Tensor2D | null): tf.Tensor2D | null => {
      if (add === null) return acc;
      if (acc === null) return add;
      const out = tf.add(acc, add) as tf.Tensor2D;
      acc.dispose();
      add.dispose();
      return out;
    };
    try {
      for (let b = 0; b < batch; b += 1) {
        const masks = blockMasks(pr, b);
        try {
          for (const [x, xT, rowsOut, which] of [
            [z, zT, dZRows, 0],
            [zMix, zMixT, dMixRows, 1],
          ] as const) {
            const term = contrastTerm(x, xT, masks, pr, b, withGrad);
            const next = tf.add(loss, term.loss) as tf.Scalar;
            loss.dispose();
            term.loss.dispose();
            loss = next;
            if (term.dRows !== null) rowsOut.push(term.dRows);
            if (which === 0) dZT = accumulate(dZT, term.dColsT);
            else dMixT = accumulate(dMixT, term.dColsT);
          }
        } finally {
          masks.wNorm.dispose();
          masks.contrast.dispose();
          masks.coef.dispose();
          masks.invalid.dispose();
        }
      }
      const gradZ =
        withGrad && dZT !== null
          ? tf.tidy(() => tf.add(tf.transpose(dZT!), tf.concat(dZRows)) as tf.Tensor2D)
          : null;
      const gradMix =
        withGrad && dMixT !== null
          ? tf.tidy(() => tf.add(tf.transpose(dMixT!), tf.concat(dMixRows)) as tf.Tensor2D)
          : null;
      return { loss, gradZ, gradMix };
    } catch (error) {
      loss.dispose();
      throw error;
    } finally {
      for (const t of [zT, zMixT, dZT, dMixT, ...dZRows, ...dMixRows]) (t as tf.Tensor | null)?.dispose();
      disposePrepared(pr);
    }
  };

  if (!withGrad) {
    const { loss, gradZ, gradMix } = run(inputs.z, inputs.zMix);
    gradZ?.dispose();
    gradMix?.dispose();
    return loss;
  }
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [z, zMix, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    const { loss, gradZ, gradMix } = run(z, zMix);
    const gz = gradZ ?? tf.zerosLike(z);
    const gm = gradMix ?? tf.zerosLike(zMix);
    save([gz, gm]);
    return {
      value: loss,
      gradFunc: (dy, saved) => [tf.mul(dy, saved[0]!), tf.mul(dy, saved[1]!)],
    };
  });
  return f(inputs.z, inputs.zMix) as tf.Scalar;
}
