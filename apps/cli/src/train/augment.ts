import { augmentedView } from '@hpseg/datasets';
import type { Augment } from './data.js';

/**
 * The photometric view of the consistency term (spec §4.3) from @hpseg/datasets: colour jitter,
 * random grayscale, Gaussian blur, applied to the image before normalisation (the correct order;
 * the official code applies it to the normalised tensor — `mode: 'official'` there reproduces it).
 */
export type AugmentMode = 'image' | 'official';

export async function resolveAugment(mode: AugmentMode = 'image'): Promise<Augment> {
  return (image, height, width, seed) => augmentedView(image, height, width, { seed, mode }).data;
}
