import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DATASET_NAMES, encodeGrayPng, openDataset } from '../src/index.js';
import { patternImage, put, rgbPng, tempRoot } from './helpers.js';

describe('openDataset', () => {
  it('opens the synthetic dataset and an image folder by name', async () => {
    const syn = await openDataset({ name: 'synthetic', length: 3, size: 16, numClasses: 5 });
    expect([syn.name, syn.length, syn.numClasses]).toEqual(['synthetic', 3, 5]);
    const { root, cleanup } = tempRoot('open');
    try {
      put(join(root, 'i', 'a.png'), await rgbPng(patternImage(2, 2, 0), 2, 2));
      put(join(root, 'l', 'a.png'), encodeGrayPng(Uint8Array.from([0, 1, 1, 255]), 2, 2));
      const ds = await openDataset({
        name: 'folder',
        root: join(root, 'i'),
        labels: join(root, 'l'),
        classNames: ['x', 'y'],
      });
      expect(Array.from((await ds.get(0)).label)).toEqual([0, 1, 1, -1]);
    } finally {
      cleanup();
    }
  });
  it('dispatches to the official loaders (errors carry their layouts)', async () => {
    await expect(
      openDataset({ name: 'cocostuff27', root: '/nonexistent', split: 'val' }),
    ).rejects.toMatchObject({ code: 'E_NOT_FOUND', message: expect.stringContaining('curated') });
    await expect(openDataset({ name: 'cityscapes', root: '/nonexistent' })).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
      message: expect.stringContaining('leftImg8bit'),
    });
    await expect(openDataset({ name: 'potsdam6', root: '/nonexistent' })).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
      message: expect.stringContaining('labelled_train.txt'),
    });
  });
  it('rejects unknown names, a missing root and five-crop where there is none', async () => {
    expect(DATASET_NAMES).toContain('potsdam');
    await expect(openDataset({ name: 'voc' as 'folder' })).rejects.toMatchObject({
      code: 'E_ARG',
      message: expect.stringContaining('unknown dataset'),
    });
    await expect(openDataset({ name: 'cocostuff27' })).rejects.toMatchObject({
      code: 'E_ARG',
      message: expect.stringContaining('needs a root'),
    });
    await expect(openDataset({ name: 'potsdam', root: '/x', crop: 'five' })).rejects.toMatchObject({
      code: 'E_ARG',
      message: expect.stringContaining('no five-crop'),
    });
  });
});
