import { assertInt, HpError } from '@hpseg/core';

export interface LambdaScheduleOptions {
  /** 0-based global iteration t = epoch · batchesPerEpoch + batchIndex. */
  readonly iteration: number;
  /** Iterations with λ = 0 (official `model.warmup`). */
  readonly warmup: number;
  /** Total iterations, batchesPerEpoch · epochs (official `maxiter`). */
  readonly maxIterations: number;
}

/**
 * Weight λ of the task-specific hidden positives at iteration t (official-behaviour §3.5, `run.py:134-141`):
 * 0 while t <= warmup, then (t − warmup) / (maxIterations − warmup), reaching ≈1 at the last
 * iteration. Not clamped, exactly as the official code.
 */
export function lambdaSchedule({ iteration, warmup, maxIterations }: LambdaScheduleOptions): number {
  const fn = 'lambdaSchedule';
  assertInt(fn, 'iteration', iteration, 0);
  assertInt(fn, 'warmup', warmup, 0);
  assertInt(fn, 'maxIterations', maxIterations, 1);
  if (iteration <= warmup) return 0;
  if (maxIterations <= warmup) {
    throw new HpError(
      'E_ARG',
      `${fn}: maxIterations must exceed warmup once iteration > warmup: expected maxIterations > ${warmup}, got ${maxIterations}`,
    );
  }
  return (iteration - warmup) / (maxIterations - warmup);
}
