import type { Backbone } from '@hpseg/backbone-vit';
import { HpError } from '@hpseg/core';
import type { FeatureSource } from '../train/loop.js';

export function cacheFeatureSource(
  _dir: string,
  _augViews: number,
): (backbone: Backbone, gridSize: number) => Promise<FeatureSource> {
  return async () => {
    throw new HpError('E_NOT_IMPLEMENTED', 'train --feature-cache: not implemented yet');
  };
}
