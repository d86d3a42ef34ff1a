import { HpError } from '@hpseg/core';
import { type CrfParams, resolveCrfParams } from './params.js';
import type { DenseCrfInput } from './types.js';

/** A checked `DenseCrfInput` with its parameters resolved. */
export type ValidCrfInput = Omit<DenseCrfInput, 'params'> & { params: CrfParams };

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

function positiveInt(fn: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new HpError('E_ARG', `${fn}: ${name} is invalid: expected a positive integer, got ${String(v)}`);
  }
  return v;
}

/** Checks types, sizes and values of one CRF input; throws `HpError` (E_ARG, E_DTYPE, E_SHAPE, E_VALUE). */
export function validateCrfInput(fn: string, item: DenseCrfInput): ValidCrfInput {
  if (typeof item !== 'object' || item === null) {
    throw new HpError('E_ARG', `${fn}: input is invalid: expected an object, got ${String(item)}`);
  }
  const height = positiveInt(fn, 'height', item.height);
  const width = positiveInt(fn, 'width', item.width);
  const numLabels = positiveInt(fn, 'numLabels', item.numLabels);
  if (numLabels < 2) {
    throw new HpError('E_ARG', `${fn}: numLabels is invalid: expected at least 2 labels, got ${numLabels}`);
  }
  if (item.input !== 'logits' && item.input !== 'probabilities') {
    throw new HpError(
      'E_ARG',
      `${fn}: input is invalid: expected 'logits' or 'probabilities', got ${JSON.stringify(item.input)}`,
    );
  }
  const { image, scores } = item;
  if (!(image instanceof Uint8Array)) {
    throw new HpError(
      'E_DTYPE',
      `${fn}: image has the wrong type: expected Uint8Array, got ${typeName(image)}`,
    );
  }
  if (!(scores instanceof Float32Array)) {
    throw new HpError(
      'E_DTYPE',
      `${fn}: scores has the wrong type: expected Float32Array, got ${typeName(scores)}`,
    );
  }
  const n = height * width;
  if (image.length !== n * 3) {
    throw new HpError(
      'E_SHAPE',
      `${fn}: image has the wrong size: expected [${height}, ${width}, 3] = ${n * 3} values, got ${image.length}`,
    );
  }
  if (scores.length !== n * numLabels) {
    throw new HpError(
      'E_SHAPE',
      `${fn}: scores has the wrong size: expected [${height}, ${width}, ${numLabels}] = ${n * numLabels} values, got ${scores.length}`,
    );
  }
  const probabilities = item.input === 'probabilities';
  for (let i = 0; i < scores.length; i++) {
    const v = scores[i]!;
    if (!Number.isFinite(v) || (probabilities && (v < 0 || v > 1))) {
      const expected = probabilities ? 'probabilities in [0, 1]' : 'finite logits';
      throw new HpError(
        'E_VALUE',
        `${fn}: scores has an invalid value: expected ${expected}, got ${v} at index ${i} (pixel ${Math.floor(i / numLabels)}, label ${i % numLabels})`,
      );
    }
  }
  const params = resolveCrfParams(fn, item.params);
  return { image, height, width, scores, numLabels, input: item.input, params };
}
