import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CITYSCAPES27_CLASS_NAMES, cityscapes27, encodeGrayPng, verifyDataset } from '../src/index.js';
import { patternImage, put, rgbPng, tempRoot } from './helpers.js';

let root = '';
let cleanup = () => {};
const H = 6;
const W = 12;
/** labelIds 0..33 over the frame (plus 40 in the faulty file). */
const ids = (shift: number) => Uint8Array.from({ length: H * W }, (_, i) => (i + shift) % 34);
const frames = [
  { city: 'aachen', name: 'aachen_000000_000019', shift: 0 },
  { city: 'aachen', name: 'aachen_000001_000019', shift: 5 },
  { city: 'bremen', name: 'bremen_000000_000019', shift: 11 },
];

beforeAll(async () => {
  ({ root, cleanup } = tempRoot('cityscapes'));
  for (const [k, f] of frames.entries()) {
    put(
      join(root, 'leftImg8bit', 'val', f.city, `${f.name}_leftImg8bit.png`),
      await rgbPng(patternImage(H, W, k), H, W),
    );
    put(
      join(root, 'gtFine', 'val', f.city, `${f.name}_gtFine_labelIds.png`),
      encodeGrayPng(ids(f.shift), H, W),
    );
    // the other gtFine files of the official archive must be ignored
    put(
      join(root, 'gtFine', 'val', f.city, `${f.name}_gtFine_color.png`),
      await rgbPng(patternImage(H, W, 9), H, W),
    );
  }
});
afterAll(() => cleanup());

describe('cityscapes27 on the official layout', () => {
  it('maps labelId - 7 with ids 0..6 ignored, images sorted by city then name', async () => {
    const ds = await cityscapes27({ root, split: 'val' });
    expect(ds.length).toBe(3);
    expect(ds.classNames).toEqual(CITYSCAPES27_CLASS_NAMES);
    expect(ds.classNames[0]).toBe('road');
    expect(ds.classNames[26]).toBe('bicycle');
    for (const [k, f] of frames.entries()) {
      const it = await ds.get(k);
      expect(it.id).toBe(f.name);
      const expected = Array.from(ids(f.shift), (v) => (v < 7 ? -1 : v - 7));
      expect(Array.from(it.label)).toEqual(expected);
      expect(Array.from(it.image)).toEqual(Array.from(patternImage(H, W, k)));
    }
  });

  it('verify reports count vs 500, a missing gtFine, an image-less label and label ids above 33', async () => {
    const { root: bad, cleanup: c } = tempRoot('cityscapes-bad');
    try {
      put(
        join(bad, 'leftImg8bit', 'val', 'a', 'a_1_leftImg8bit.png'),
        await rgbPng(patternImage(H, W, 0), H, W),
      );
      put(
        join(bad, 'gtFine', 'val', 'a', 'a_1_gtFine_labelIds.png'),
        encodeGrayPng(
          Uint8Array.from(ids(0), (v, i) => (i === 3 ? 40 : v)),
          H,
          W,
        ),
      );
      put(
        join(bad, 'leftImg8bit', 'val', 'a', 'a_2_leftImg8bit.png'),
        await rgbPng(patternImage(H, W, 1), H, W),
      );
      put(join(bad, 'gtFine', 'val', 'b', 'b_9_gtFine_labelIds.png'), encodeGrayPng(ids(0), H, W));
      const ds = await cityscapes27({ root: bad, split: 'val' });
      const report = await verifyDataset(ds);
      const kinds = report.problems.map((p) => `${p.kind}:${p.id ?? ''}`).sort();
      expect(kinds).toEqual(['count:', 'label-range:a_1', 'missing:a_2', 'missing:b_9']);
      expect(report.problems.find((p) => p.kind === 'label-range')!.message).toContain('40');
      // the item with the bad id still loads, the unknown id is read as ignore
      const it = await ds.get(0);
      expect(it.label[3]).toBe(-1);
      await expect(ds.get(1)).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    } finally {
      c();
    }
  });

  it('errors for a missing folder with the expected layout in the message', async () => {
    await expect(cityscapes27({ root, split: 'train' })).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
      message: expect.stringContaining('leftImg8bit/{train,val}'),
    });
    await expect(cityscapes27({ root, split: 'val', crop: 'random' as 'five' })).rejects.toMatchObject({
      code: 'E_ARG',
    });
  });
});
