import { assertNumber, type HostTensor, HpError, type StateDict } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import type { GradMap, ParamMap } from '../params.js';

export interface AdamOptions {
  /** Learning rate (official: 5e-4 head and projection, 1e-3 linear probe, 5e-3 cluster probe). */
  lr: number;
  /** (β1, β2), torch default (0.9, 0.999). */
  betas?: readonly [number, number];
  /** Added to `√v̂` (outside the square root, as torch; TF.js's Adam differs). Default 1e-8. */
  eps?: number;
}

export interface AdamWOptions extends AdamOptions {
  /** Decoupled weight decay (official head: 0.1). torch's default is 0.01. */
  weightDecay?: number;
}

/** An optimiser bound to an explicit parameter map (its `varList`). */
export interface Optimizer {
  /** Names of the parameters it updates. */
  readonly paramNames: readonly string[];
  /**
   * One update from `grads` (keyed like the param map). Parameters without a gradient are
   * skipped, as torch skips `p.grad is None` (their step count does not advance). Grads are not
   * disposed: the caller owns them.
   */
  step(grads: GradMap): void;
  /**
   * A copy of the state: per parameter `<name>.step` (int32 scalar), `<name>.exp_avg`, `<name>.exp_avg_sq`.
   * Asynchronous (`await tensor.data()`), so it works on GPU backends.
   */
  getState(): Promise<StateDict>;
  /** Restores a state from `getState` (strict: every key, exact shapes), so a resumed run is bit-identical. */
  setState(state: StateDict): void;
  dispose(): void;
}

interface Slot {
  param: tf.Variable;
  m: tf.Variable;
  v: tf.Variable;
  t: number;
}

function makeAdam(fn: string, params: ParamMap, options: AdamWOptions, decoupledDecay: boolean): Optimizer {
  const lr = assertNumber(fn, 'lr', options.lr, 0);
  const [beta1, beta2] = options.betas ?? [0.9, 0.999];
  assertNumber(fn, 'betas[0]', beta1, 0, 0.999999999);
  assertNumber(fn, 'betas[1]', beta2, 0, 0.999999999);
  const eps = assertNumber(fn, 'eps', options.eps ?? 1e-8, 0);
  const wd = decoupledDecay ? assertNumber(fn, 'weightDecay', options.weightDecay ?? 0.01, 0) : 0;
  const names = Object.keys(params);
  if (names.length === 0)
    throw new HpError('E_ARG', `${fn}: no parameters: expected at least one tf.Variable, got none`);
  const slots = new Map<string, Slot>();
  for (const name of names) {
    const param = params[name]!;
    if (!param.trainable) {
      throw new HpError(
        'E_ARG',
        `${fn}: parameter ${name} is not trainable: expected only trainable variables (frozen weights stay out of the varList), got trainable = false`,
      );
    }
    slots.set(name, {
      param,
      m: tf.tidy(() => tf.variable(tf.zerosLike(param), false)),
      v: tf.tidy(() => tf.variable(tf.zerosLike(param), false)),
      t: 0,
    });
  }
  let disposed = false;
  const alive = (what: string) => {
    if (disposed) throw new HpError('E_ARG', `${fn}.${what}: the optimiser is disposed: expected a live one`);
  };

  const step = (grads: GradMap): void => {
    alive('step');
    for (const [name, g] of Object.entries(grads)) {
      const slot = slots.get(name);
      if (slot === undefined) {
        throw new HpError(
          'E_ARG',
          `${fn}.step: unknown gradient ${name}: expected one of ${names.join(', ')}`,
        );
      }
      if (g.shape.join(',') !== slot.param.shape.join(',')) {
        throw new HpError(
          'E_SHAPE',
          `${fn}.step: gradient ${name} has the wrong shape: expected [${slot.param.shape.join(', ')}], got [${g.shape.join(', ')}]`,
        );
      }
    }
    for (const [name, g] of Object.entries(grads)) {
      const slot = slots.get(name)!;
      slot.t += 1;
      // scalars in double precision, as torch computes them in Python
      const bc1 = 1 - beta1 ** slot.t;
      const bc2Sqrt = Math.sqrt(1 - beta2 ** slot.t);
      const stepSize = lr / bc1;
      tf.tidy(() => {
        const p0 = wd > 0 ? tf.mul(slot.param, tf.scalar(1 - lr * wd)) : slot.param; // AdamW: p.mul_(1 − lr·wd)
        const m = tf.add(tf.mul(slot.m, tf.scalar(beta1)), tf.mul(g, tf.scalar(1 - beta1))); // exp_avg.mul_(β1).add_(g, α=1−β1)
        const v = tf.add(tf.mul(slot.v, tf.scalar(beta2)), tf.mul(tf.mul(g, tf.scalar(1 - beta2)), g)); // addcmul_
        const denom = tf.add(tf.div(tf.sqrt(v), tf.scalar(bc2Sqrt)), tf.scalar(eps)); // (√v / √bc2) + eps
        const p = tf.add(p0, tf.div(tf.mul(m, tf.scalar(-stepSize)), denom)); // addcdiv_(m, denom, −step)
        slot.m.assign(m);
        slot.v.assign(v);
        slot.param.assign(p);
      });
    }
  };

  const getState = async (): Promise<StateDict> => {
    alive('getState');
    const out: StateDict = new Map();
    for (const [name, slot] of slots) {
      out.set(`${name}.step`, {
        dtype: 'int32',
        storedDtype: 'int32',
        shape: [],
        data: Int32Array.of(slot.t),
      });
      for (const [key, t] of [
        ['exp_avg', slot.m],
        ['exp_avg_sq', slot.v],
      ] as const) {
        out.set(`${name}.${key}`, {
          dtype: 'float32',
          storedDtype: 'float32',
          shape: [...t.shape],
          data: Float32Array.from((await t.data()) as Float32Array),
        });
      }
    }
    return out;
  };

  const setState = (state: StateDict): void => {
    alive('setState');
    const expected = new Set<string>();
    for (const name of names) for (const k of ['step', 'exp_avg', 'exp_avg_sq']) expected.add(`${name}.${k}`);
    const missing = [...expected].filter((k) => !state.has(k));
    const unexpected = [...state.keys()].filter((k) => !expected.has(k));
    const wrong: string[] = [];
    for (const [name, slot] of slots) {
      const st = state.get(`${name}.step`);
      if (st !== undefined && (st.shape.length !== 0 || st.data.length !== 1)) wrong.push(`${name}.step`);
      for (const k of ['exp_avg', 'exp_avg_sq']) {
        const h = state.get(`${name}.${k}`);
        if (h !== undefined && (h.shape.join(',') !== slot.param.shape.join(',') || h.dtype !== 'float32'))
          wrong.push(
            `${name}.${k} float32 [${slot.param.shape.join(', ')}] got ${h.dtype} [${h.shape.join(', ')}]`,
          );
      }
    }
    if (missing.length + unexpected.length + wrong.length > 0) {
      throw new HpError(
        'E_CHECKPOINT',
        `${fn}.setState: optimiser state does not match its parameters: expected exactly ${expected.size} keys, got missing [${missing.join(', ')}], unexpected [${unexpected.join(', ')}], mis-shaped [${wrong.join('; ')}]`,
        { details: { missing, unexpected, wrong } },
      );
    }
    for (const [name, slot] of slots) {
      const asTensor = (h: HostTensor) => tf.tensor(h.data as Float32Array, [...h.shape], 'float32');
      slot.t = Number((state.get(`${name}.step`) as HostTensor).data[0]);
      tf.tidy(() => {
        slot.m.assign(asTensor(state.get(`${name}.exp_avg`)!));
        slot.v.assign(asTensor(state.get(`${name}.exp_avg_sq`)!));
      });
    }
  };

  return {
    paramNames: names,
    step,
    getState,
    setState,
    dispose: () => {
      if (disposed) return;
      disposed = true;
      for (const slot of slots.values()) {
        slot.m.dispose();
        slot.v.dispose();
      }
    },
  };
}

/** `torch.optim.Adam` (no weight decay, no amsgrad) over exactly `params`. */
export function createAdam(params: ParamMap, options: AdamOptions): Optimizer {
  return makeAdam('createAdam', params, options, false);
}

/**
 * `torch.optim.AdamW`: decoupled weight decay `θ ← θ·(1 − lr·wd)` applied before the Adam update
 * (the official head optimiser: lr 5e-4, wd 0.1).
 */
export function createAdamW(params: ParamMap, options: AdamWOptions): Optimizer {
  return makeAdam('createAdamW', params, options, true);
}
