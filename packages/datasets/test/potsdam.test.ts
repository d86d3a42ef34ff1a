import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POTSDAM3_CLASS_NAMES, potsdam3, verifyDataset } from '../src/index.js';
import { put, tempRoot } from './helpers.js';

const fixtures = new URL('./fixtures/mat/', import.meta.url);
const mat = JSON.parse(readFileSync(new URL('mat.json', fixtures), 'utf8')) as Record<
  string,
  Record<string, { shape: number[]; values: number[] }>
>;
let root = '';
let cleanup = () => {};
const COARSE: Record<number, number> = { 0: 0, 4: 0, 1: 1, 5: 1, 2: 2, 3: 2, 255: -1 };

beforeAll(() => {
  ({ root, cleanup } = tempRoot('potsdam'));
  mkdirSync(join(root, 'imgs'), { recursive: true });
  mkdirSync(join(root, 'gt'), { recursive: true });
  for (const id of ['p0', 'p1']) {
    copyFileSync(new URL(`img_${id}.mat`, fixtures), join(root, 'imgs', `${id}.mat`));
    copyFileSync(new URL(`gt_${id}.mat`, fixtures), join(root, 'gt', `${id}.mat`));
  }
  // p1 files are the compressed ones (miCOMPRESSED)
  put(join(root, 'labelled_train.txt'), 'p0\np1\n');
  put(join(root, 'labelled_test.txt'), 'p1\n');
});
afterAll(() => cleanup());

/** Expected RGB of a tile: the first 3 of the 4 channels of the H x W x 4 array. */
function rgbOf(file: string): number[] {
  const { shape, values } = mat[file]!.img!;
  const [h, w, c] = shape as [number, number, number];
  const out: number[] = [];
  for (let p = 0; p < h * w; p++) out.push(values[p * c]!, values[p * c + 1]!, values[p * c + 2]!);
  return out;
}

describe('potsdam3 on the official layout (.mat tiles)', () => {
  it('reads uncompressed and compressed tiles: RGB = first 3 channels, labels merged to 3 classes', async () => {
    const ds = await potsdam3({ root, split: 'train' });
    expect(ds.length).toBe(2);
    expect(ds.classNames).toEqual(POTSDAM3_CLASS_NAMES);
    for (const [i, id] of ['p0', 'p1'].entries()) {
      const it = await ds.get(i);
      expect(it.id).toBe(id);
      expect([it.height, it.width]).toEqual([6, 5]);
      expect(Array.from(it.image)).toEqual(rgbOf(`img_${id}.mat`));
      expect(Array.from(it.label)).toEqual(mat[`gt_${id}.mat`]!.gt!.values.map((v) => COARSE[v]));
    }
    const val = await potsdam3({ root, split: 'val' });
    expect(val.length).toBe(1);
    expect((await val.get(0)).id).toBe('p1');
  });

  it('a float image in [0,1] is converted like to_pil_image (x*255, truncated)', async () => {
    const { potsdamImageFromMat, readMat, getMatArray } = await import('../src/index.js');
    const bytes = new Uint8Array(readFileSync(new URL('img_float.mat', fixtures)));
    const img = potsdamImageFromMat(getMatArray(readMat(bytes), 'img'));
    const { shape, values } = mat['img_float.mat']!.img!;
    const expected: number[] = [];
    for (let p = 0; p < shape[0]! * shape[1]!; p++)
      for (let k = 0; k < 3; k++) expected.push(Math.trunc(values[p * 4 + k]! * 255));
    expect(Array.from(img.data)).toEqual(expected);
    expect([img.height, img.width]).toEqual([4, 3]);
  });

  it("labels: 'fine' keeps the 6 raw classes", async () => {
    const ds = await potsdam3({ root, split: 'train', labels: 'fine' });
    expect(ds.numClasses).toBe(6);
    const it = await ds.get(0);
    expect(Array.from(it.label)).toEqual(mat['gt_p0.mat']!.gt!.values.map((v) => (v === 255 ? -1 : v)));
  });

  it('verify: list count is the reference; a missing tile, an unknown label and a v7.3 file are reported', async () => {
    const { root: bad, cleanup: c } = tempRoot('potsdam-bad');
    try {
      copyFileSync(new URL('img_p0.mat', fixtures), join(bad, 'p0.mat'));
      mkdirSync(join(bad, 'imgs'));
      mkdirSync(join(bad, 'gt'));
      copyFileSync(new URL('img_p0.mat', fixtures), join(bad, 'imgs', 'a.mat'));
      copyFileSync(new URL('gt_bad.mat', fixtures), join(bad, 'gt', 'a.mat'));
      const v73 = new Uint8Array(600);
      v73.set(new TextEncoder().encode('MATLAB 7.3 MAT-file, Platform: GLNXA64'));
      v73.set([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a], 512);
      put(join(bad, 'imgs', 'b.mat'), v73);
      copyFileSync(new URL('gt_p0.mat', fixtures), join(bad, 'gt', 'b.mat'));
      put(join(bad, 'labelled_train.txt'), 'a\nb\nc\n');
      const ds = await potsdam3({ root: bad, split: 'train' });
      const report = await verifyDataset(ds);
      const kinds = report.problems.map((p) => `${p.kind}:${p.id}`).sort();
      expect(kinds).toEqual(['corrupt:b', 'label-range:a', 'missing:c', 'missing:c']);
      expect(report.problems.find((p) => p.id === 'b')!.message).toContain('-v7');
      expect(report.problems.find((p) => p.kind === 'label-range')!.message).toContain('7');
      await expect(ds.get(1)).rejects.toMatchObject({
        code: 'E_FORMAT',
        message: expect.stringContaining('v7.3'),
      });
    } finally {
      c();
    }
  });

  it('errors for a missing list file and a bad labels option', async () => {
    const { root: empty, cleanup: c } = tempRoot('potsdam-empty');
    await expect(potsdam3({ root: empty, split: 'val' })).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
      message: expect.stringContaining('labelled_test.txt'),
    });
    c();
    await expect(potsdam3({ root, split: 'val', labels: 'x' as 'fine' })).rejects.toMatchObject({
      code: 'E_ARG',
    });
  });
});
