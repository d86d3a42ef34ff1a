import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cocoStuff27,
  encodeGrayPng,
  formatVerifyReport,
  imageFolder,
  syntheticDataset,
  verifyDataset,
} from '../src/index.js';
import { patternImage, put, rgbPng, tempRoot } from './helpers.js';

const fixtures = new URL('./fixtures/coco/', import.meta.url);
let root = '';
let cleanup = () => {};

beforeAll(async () => {
  ({ root, cleanup } = tempRoot('verify'));
  const img = join(root, 'images', 'val2017');
  const ann = join(root, 'annotations', 'val2017');
  mkdirSync(img, { recursive: true });
  mkdirSync(ann, { recursive: true });
  // good: 139; missing image: 1; corrupt image: 2; size mismatch: 3; fine id 200: 4; missing label: 5
  copyFileSync(new URL('000000000139.jpg', fixtures), join(img, '000000000139.jpg'));
  copyFileSync(new URL('000000000139.png', fixtures), join(ann, '000000000139.png'));
  copyFileSync(new URL('000000000139.png', fixtures), join(ann, '1.png'));
  put(join(img, '2.jpg'), new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 1, 2, 3]));
  copyFileSync(new URL('000000000139.png', fixtures), join(ann, '2.png'));
  copyFileSync(new URL('000000000285.jpg', fixtures), join(img, '3.jpg'));
  copyFileSync(new URL('000000000139.png', fixtures), join(ann, '3.png'));
  put(join(img, '4.jpg'), await rgbPng(patternImage(3, 4, 0), 3, 4)); // PNG bytes named .jpg decode fine
  put(join(ann, '4.png'), encodeGrayPng(Uint8Array.from([0, 1, 200, 255, 181, 5, 6, 7, 8, 9, 10, 11]), 3, 4));
  put(join(img, '5.jpg'), await rgbPng(patternImage(3, 4, 0), 3, 4));
  put(join(root, 'curated', 'val2017', 'Coco164kFull_Stuff_Coarse_7.txt'), '000000000139\n1\n2\n3\n4\n5\n');
});
afterAll(() => cleanup());

describe('verifyDataset', () => {
  it('reports every planted fault once, without throwing', async () => {
    const ds = await cocoStuff27({ root, split: 'val' });
    const report = await verifyDataset(ds, { concurrency: 2 });
    const kinds = report.problems.map((p) => `${p.kind}:${p.id ?? ''}`);
    expect(kinds.sort()).toEqual([
      'corrupt:2',
      'count:',
      'label-range:4',
      'missing:1',
      'missing:5',
      'size-mismatch:3',
    ]);
    expect(report.ok).toBe(false);
    expect(report.counts).toEqual({ found: 6, expected: 2175, checked: 6, problems: 6 });
    expect(report.problems.find((p) => p.kind === 'label-range')!.message).toContain('200');
    const text = formatVerifyReport(report);
    expect(text).toContain('cocostuff27-val: PROBLEMS FOUND');
    expect(text).toContain('items found: 6 (expected 2175)');
    expect(text).toMatch(/by kind: .*missing 2/);
    // get() fails with stable codes on the same items
    await expect(ds.get(1)).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    await expect(ds.get(2)).rejects.toMatchObject({ code: 'E_FORMAT' });
    await expect(ds.get(3)).rejects.toMatchObject({
      code: 'E_DATASET',
      message: expect.stringContaining('sizes differ'),
    });
    const four = await ds.get(4);
    expect(Array.from(four.label)).toEqual([9, 11, -1, -1, 24, 11, 11, 11, 11, 8, 8, 8]);
  });

  it('limit and progress; a clean dataset is ok', async () => {
    const ds = await cocoStuff27({ root, split: 'val' });
    const seen: number[] = [];
    const report = await verifyDataset(ds, { limit: 1, onProgress: (d) => seen.push(d) });
    expect(report.counts.checked).toBe(1);
    expect(seen).toEqual([1]);
    const ok = await verifyDataset(syntheticDataset({ length: 3, size: 8 }));
    expect(ok).toMatchObject({ ok: true, counts: { found: 3, checked: 3, problems: 0 } });
    expect(formatVerifyReport(ok)).toBe('synthetic: OK\n  items found: 3, checked: 3, problems: 0');
    await expect(verifyDataset(ds, { limit: -1 })).rejects.toMatchObject({ code: 'E_ARG' });
  });

  it('imageFolder: a label of another size is a size mismatch', async () => {
    const { root: r, cleanup: c } = tempRoot('verify-folder');
    try {
      put(join(r, 'i', 'a.png'), await rgbPng(patternImage(4, 4, 0), 4, 4));
      put(join(r, 'l', 'a.png'), encodeGrayPng(new Uint8Array(12), 3, 4));
      const report = await verifyDataset(
        await imageFolder({ images: join(r, 'i'), labels: join(r, 'l'), numClasses: 2 }),
      );
      expect(report.problems.map((p) => p.kind)).toEqual(['size-mismatch']);
      expect(report.problems[0]!.message).toContain('expected the label to be 4x4, got 3x4');
    } finally {
      c();
    }
  });
});
