import { HpError } from '@hpseg/core';
import type { Augment } from './data.js';

/**
 * The photometric augmentation of the consistency view (spec §4.3), from @hpseg/datasets:
 * colour jitter, random grayscale, Gaussian blur, applied to the uint8 image before normalisation.
 */
export async function resolveAugment(): Promise<Augment> {
  const datasets = (await import('@hpseg/datasets')) as unknown as Record<string, unknown>;
  const fn = datasets.photometricAugment ?? datasets.augmentPhotometric ?? datasets.augmentedView;
  if (typeof fn !== 'function') {
    throw new HpError('E_BACKEND', 'resolveAugment: @hpseg/datasets exports no photometric augmentation yet');
  }
  return (image, height, width, seed) =>
    (fn as (item: unknown, options: unknown) => { image: Uint8Array }).call(
      null,
      { image, label: new Int32Array(height * width), height, width, id: 'aug' },
      { seed },
    ).image;
}
