import { assertNumber, HpError } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { SEG_HEAD_PARAM_NAMES, SegHead } from './seg-head.js';

/**
 * The momentum head S′ (an exponential moving average of the head): an exact copy of `online` whose variables are not trainable
 * (official `ema_model1/2`, initialised by `copy_`, `requires_grad = False`).
 */
export function createMomentumHead(online: SegHead): SegHead {
  return SegHead.fromWeights(online.params, { trainable: false, dropoutRate: online.dropoutRate });
}

/**
 * One explicit momentum update, per parameter `θ' ← m·θ' + (1−m)·θ` (official `ema_model_update`,
 * m = `ema_m` = 0.99 COCO-Stuff, 0.999 Cityscapes / Potsdam). Nothing is returned; `momentum`'s
 * variables are assigned in place. Call it once per iteration, where the official forward did.
 */
export function updateMomentumHead(online: SegHead, momentum: SegHead, m: number): void {
  const fn = 'updateMomentumHead';
  assertNumber(fn, 'm', m, 0, 1);
  if (online.inChannels !== momentum.inChannels || online.dim !== momentum.dim) {
    throw new HpError(
      'E_SHAPE',
      `${fn}: heads differ in width: expected equal (C, D), got online (${online.inChannels}, ${online.dim}) and momentum (${momentum.inChannels}, ${momentum.dim})`,
    );
  }
  if (online === momentum)
    throw new HpError('E_ARG', `${fn}: online and momentum head are the same object: expected two heads`);
  tf.tidy(() => {
    const mm = tf.scalar(m);
    const om = tf.scalar(1 - m);
    for (const name of SEG_HEAD_PARAM_NAMES) {
      const target = momentum.params[name];
      target.assign(tf.add(tf.mul(target, mm), tf.mul(online.params[name], om)));
    }
  });
}
