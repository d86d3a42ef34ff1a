import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  encodeFiveCropLabel,
  encodeGrayPng,
  encodeJpeg,
  fiveCrop,
  fiveCropDataset,
  fiveCropDir,
  verifyDataset,
} from '../src/index.js';
import { patternImage, put, tempRoot } from './helpers.js';

describe('fiveCropDataset (reader)', () => {
  it('reports gaps in the numbering, unequal counts and stored labels above numClasses', async () => {
    const { root, cleanup } = tempRoot('five');
    try {
      const dir = fiveCropDir(root, 'mine');
      expect(dir).toBe(join(root, 'cropped', 'mine_five_crop_0.5'));
      const jpg = await encodeJpeg(patternImage(4, 4, 0), 4, 4);
      put(join(dir, 'img', 'train', '0.jpg'), jpg);
      put(join(dir, 'img', 'train', '2.jpg'), jpg); // gap: no 1.jpg
      put(
        join(dir, 'label', 'train', '0.png'),
        encodeGrayPng(
          Uint8Array.from({ length: 16 }, (_, i) => (i === 15 ? 9 : i % 4)),
          4,
          4,
        ),
      );
      put(join(dir, 'label', 'train', '1.png'), encodeGrayPng(new Uint8Array(16), 4, 4));
      put(join(dir, 'label', 'train', '2.png'), encodeGrayPng(new Uint8Array(16), 4, 4));
      put(join(dir, 'label', 'train', '3.png'), encodeGrayPng(new Uint8Array(16), 4, 4)); // extra label
      const ds = await fiveCropDataset({
        root,
        name: 'mine',
        split: 'train',
        numClasses: 3,
        classNames: ['a', 'b', 'c'],
      });
      const item = await ds.get(0);
      expect(Array.from(item.label)).toEqual(
        Array.from({ length: 16 }, (_, i) => (i === 15 ? -1 : (i % 4) - 1)),
      ); // stored 9 = class 8 >= 3
      const report = await verifyDataset(ds);
      expect(report.problems.map((p) => `${p.kind}:${p.id ?? ''}`).sort()).toEqual([
        'count:',
        'label-range:0',
        'missing:1',
      ]);
    } finally {
      cleanup();
    }
  });

  it('fiveCrop crops items in the order tl, tr, bl, br, center and encodes labels + 1', () => {
    const H = 5;
    const W = 7;
    const label = Int32Array.from({ length: H * W }, (_, i) => i);
    const crops = fiveCrop({ image: patternImage(H, W, 1), label, height: H, width: W, id: 'x' });
    // crop 2x3; centre offsets round((5-2)/2)=round(1.5)=2, round((7-3)/2)=2
    expect(crops.map((c) => c.label[0])).toEqual([0, 4, 21, 25, 16]);
    expect(crops.map((c) => c.id)).toEqual(['x#0', 'x#1', 'x#2', 'x#3', 'x#4']);
    expect(Array.from(encodeFiveCropLabel(Int32Array.from([-1, 0, 26])))).toEqual([0, 1, 27]);
    expect(() => encodeFiveCropLabel(Int32Array.from([255]))).toThrow(
      expect.objectContaining({ code: 'E_VALUE' }),
    );
  });

  it('rejects bad arguments and missing folders', async () => {
    await expect(
      fiveCropDataset({ root: '/nonexistent', name: 'x', split: 'val', numClasses: 3, classNames: [] }),
    ).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
      message: expect.stringContaining('prepareFiveCrop'),
    });
    await expect(
      fiveCropDataset({ root: '/x', name: 'x', split: 'val', numClasses: 300, classNames: [] }),
    ).rejects.toMatchObject({ code: 'E_ARG' });
  });
});
