import { describeValue, HpError } from '@hpseg/core';

/** Patch grid `[h, w]` of one image. */
export type GridSize = number | readonly [number, number];

/** Normalises `gridSize` (a side or `[h, w]`) to `[h, w]`, rejecting non-positive or fractional sides. */
export function parseGrid(fn: string, gridSize: unknown): [number, number] {
  const pair = typeof gridSize === 'number' ? [gridSize, gridSize] : gridSize;
  if (
    !Array.isArray(pair) ||
    pair.length !== 2 ||
    !pair.every((v) => typeof v === 'number' && Number.isInteger(v) && v >= 1)
  ) {
    throw new HpError(
      'E_ARG',
      `${fn}: gridSize is invalid: expected a positive integer or [h, w] of positive integers, got ${describeValue(gridSize)}`,
    );
  }
  return [pair[0] as number, pair[1] as number];
}
