import { HpError } from '@hpseg/core';

/** Pairwise kernel over pixel positions only (pydensecrf `addPairwiseGaussian`). */
export interface GaussianKernelParams {
  /** Position standard deviation in pixels (official `POS_XY_STD` = 1). Features are (x/sxy, y/sxy). */
  sxy: number;
  /** Potts weight w (official `POS_W` = 3, pydensecrf `compat`). 0 disables the kernel. */
  weight: number;
}

/** Pairwise kernel over positions and colour (pydensecrf `addPairwiseBilateral`). */
export interface BilateralKernelParams {
  /** Position standard deviation in pixels (official `Bi_XY_STD` = 67). */
  sxy: number;
  /** Colour standard deviation in uint8 units (official `Bi_RGB_STD` = 3). */
  srgb: number;
  /** Potts weight w (official `Bi_W` = 4). 0 disables the kernel. */
  weight: number;
}

export interface CrfParams {
  /** Mean-field iterations (official `MAX_ITER` = 10). 0 returns the (clipped) unary softmax. */
  iterations: number;
  /** Probabilities are clipped to [clip, 1] before −log (pydensecrf `unary_from_softmax`, 1e-5). */
  clip: number;
  gaussian: GaussianKernelParams;
  bilateral: BilateralKernelParams;
}

/** Partial parameters; missing fields take the official defaults. */
export interface CrfParamsInput {
  iterations?: number;
  clip?: number;
  gaussian?: Partial<GaussianKernelParams>;
  bilateral?: Partial<BilateralKernelParams>;
}

/** The constants of the official pipeline (HP `utils/seg_utils.py`, same as STEGO). */
export const DEFAULT_CRF_PARAMS: Readonly<CrfParams> = Object.freeze({
  iterations: 10,
  clip: 1e-5,
  gaussian: Object.freeze({ sxy: 1, weight: 3 }),
  bilateral: Object.freeze({ sxy: 67, srgb: 3, weight: 4 }),
});

function check(
  fn: string,
  path: string,
  value: unknown,
  ok: (v: number) => boolean,
  expected: string,
): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) {
    throw new HpError(
      'E_ARG',
      `${fn}: params.${path} is invalid: expected ${expected}, got ${String(value)}`,
    );
  }
  return value;
}

/** Merges `input` over the defaults and validates every field (`E_ARG`). */
export function resolveCrfParams(fn: string, input: CrfParamsInput | undefined): CrfParams {
  const p = input ?? {};
  if (typeof p !== 'object' || p === null) {
    throw new HpError('E_ARG', `${fn}: params is invalid: expected an object or undefined, got ${String(p)}`);
  }
  const g = { ...DEFAULT_CRF_PARAMS.gaussian, ...(p.gaussian ?? {}) };
  const b = { ...DEFAULT_CRF_PARAMS.bilateral, ...(p.bilateral ?? {}) };
  const positive = (v: number) => v > 0;
  const nonNegative = (v: number) => v >= 0;
  return {
    iterations: check(
      fn,
      'iterations',
      p.iterations ?? DEFAULT_CRF_PARAMS.iterations,
      (v) => Number.isInteger(v) && v >= 0 && v <= 10_000,
      'an integer in [0, 10000]',
    ),
    clip: check(fn, 'clip', p.clip ?? DEFAULT_CRF_PARAMS.clip, (v) => v > 0 && v < 1, 'a number in (0, 1)'),
    gaussian: {
      sxy: check(fn, 'gaussian.sxy', g.sxy, positive, 'a positive number'),
      weight: check(fn, 'gaussian.weight', g.weight, nonNegative, 'a number >= 0'),
    },
    bilateral: {
      sxy: check(fn, 'bilateral.sxy', b.sxy, positive, 'a positive number'),
      srgb: check(fn, 'bilateral.srgb', b.srgb, positive, 'a positive number'),
      weight: check(fn, 'bilateral.weight', b.weight, nonNegative, 'a number >= 0'),
    },
  };
}
