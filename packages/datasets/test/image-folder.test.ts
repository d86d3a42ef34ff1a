import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeGrayPng, imageFolder, iterateBatches, trainView, verifyDataset } from '../src/index.js';
import { patternImage, put, rgbPng, tempRoot } from './helpers.js';

let root = '';
let cleanup = () => {};
const lab = (k: number) => Uint8Array.from({ length: 4 * 5 }, (_, i) => (i === 0 ? 255 : (i + k) % 3));

beforeAll(async () => {
  ({ root, cleanup } = tempRoot('folder'));
  for (const k of [0, 1, 2]) {
    put(join(root, 'images', `img${k}.png`), await rgbPng(patternImage(4, 5, k), 4, 5));
    put(join(root, 'labels', `img${k}.png`), encodeGrayPng(lab(k), 4, 5));
  }
  put(join(root, 'images', 'notes.txt'), 'not an image');
});
afterAll(() => cleanup());

describe('imageFolder', () => {
  it('reads images with labels (255 -> -1) and class names', async () => {
    const ds = await imageFolder({
      images: join(root, 'images'),
      labels: join(root, 'labels'),
      classNames: ['a', 'b', 'c'],
    });
    expect(ds.length).toBe(3);
    expect(ds.numClasses).toBe(3);
    const it = await ds.get(1);
    expect(it.id).toBe('img1');
    expect(Array.from(it.image)).toEqual(Array.from(patternImage(4, 5, 1)));
    expect(Array.from(it.label)).toEqual(Array.from(lab(1), (v) => (v === 255 ? -1 : v)));
    expect((await verifyDataset(ds)).ok).toBe(true);
  });

  it('without labels every pixel is ignore (-1)', async () => {
    const ds = await imageFolder({ images: join(root, 'images') });
    const it = await ds.get(0);
    expect(it.label.every((v) => v === -1)).toBe(true);
  });

  it('a corrupt image is skipped during iteration (counted) or reported by verify', async () => {
    const { root: r2, cleanup: c } = tempRoot('folder-bad');
    try {
      for (const k of [0, 1, 2]) put(join(r2, `x${k}.png`), await rgbPng(patternImage(8, 8, k), 8, 8));
      put(join(r2, 'x1.png'), new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
      const ds = await imageFolder({ images: r2 });
      const warnings: string[] = [];
      const stream = iterateBatches(ds, {
        batchSize: 2,
        onCorrupt: 'skip',
        onWarning: (m) => warnings.push(m),
        transform: (i) => trainView(i, 4),
      });
      const ids: string[] = [];
      for await (const b of stream) ids.push(...b.items.map((i) => i.id));
      expect(ids).toEqual(['x0', 'x2']);
      expect(stream.skipped).toBe(1);
      expect(warnings[0]).toContain('x1.png');
      const report = await verifyDataset(ds);
      expect(report.problems.map((p) => `${p.kind}:${p.id}`)).toEqual(['corrupt:x1']);
    } finally {
      c();
    }
  });

  it('rejects missing folders and labels without a class count', async () => {
    await expect(imageFolder({ images: join(root, 'nope') })).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    await expect(
      imageFolder({ images: join(root, 'images'), labels: join(root, 'labels') }),
    ).rejects.toMatchObject({
      code: 'E_ARG',
      message: expect.stringContaining('number of classes unknown'),
    });
    await expect(
      imageFolder({ images: join(root, 'labels'), classNames: ['a'], numClasses: 2 }),
    ).rejects.toMatchObject({ code: 'E_ARG' });
  });
});
