import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  COCO_FINE_TO_COARSE,
  COCO_LOOKUP,
  COCO27_CLASS_NAMES,
  cocoStuff27,
  fiveCropBoxes,
  formatVerifyReport,
  prepareFiveCrop,
  verifyDataset,
} from '../src/index.js';
import { put, tempRoot } from './helpers.js';

interface Crop {
  n: number;
  box: [number, number, number, number];
  label1: number[];
  pixels: number[];
  pilJpegDecoded: number[];
}
interface Item {
  id: string;
  height: number;
  width: number;
  paletteLabel: boolean;
  decoded: number[];
  fine: number[];
  coarse: number[];
  crops: Crop[];
}
const fixtures = new URL('./fixtures/', import.meta.url);
const { items } = JSON.parse(readFileSync(new URL('fivecrop.json', fixtures), 'utf8')) as { items: Item[] };

let root = '';
let cleanup = () => {};

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

beforeAll(() => {
  ({ root, cleanup } = tempRoot('coco'));
  for (const [dir, list] of [
    ['val2017', 'Coco164kFull_Stuff_Coarse_7.txt'],
    ['train2017', 'Coco164kFull_Stuff_Coarse.txt'],
  ] as const) {
    for (const it of items) {
      mkdirSync(join(root, 'images', dir), { recursive: true });
      mkdirSync(join(root, 'annotations', dir), { recursive: true });
      copyFileSync(new URL(`coco/${it.id}.jpg`, fixtures), join(root, 'images', dir, `${it.id}.jpg`));
      copyFileSync(new URL(`coco/${it.id}.png`, fixtures), join(root, 'annotations', dir, `${it.id}.png`));
    }
    put(join(root, 'curated', dir, list), `${items.map((i) => i.id).join('\n')}\n`);
  }
});
afterAll(() => cleanup());

describe('COCO-Stuff fine -> coarse map', () => {
  it('covers every fine id 0..181 with a class in 0..26, every class is used, 255 and 182+ are ignored', () => {
    expect(COCO_FINE_TO_COARSE).toHaveLength(182);
    const used = new Set<number>();
    for (let f = 0; f < 182; f++) {
      const c = COCO_LOOKUP[f]!;
      expect(c).toBe(COCO_FINE_TO_COARSE[f]);
      expect(c >= 0 && c < 27).toBe(true);
      used.add(c);
    }
    expect(used.size).toBe(27);
    expect(COCO_LOOKUP[255]).toBe(-1);
    expect(COCO_LOOKUP[182]).toBe(-1);
    expect(COCO27_CLASS_NAMES).toHaveLength(27);
  });
  it('matches hand-picked rows of the official table (official-behaviour §6.1)', () => {
    const groups: [number, number[]][] = [
      [9, [0]],
      [11, [1, 8]],
      [0, [71, 76]],
      [13, [100, 113, 117]],
      [12, [101, 102]],
      [23, [105, 156]],
      [19, [179, 180]],
      [24, [126, 181]],
      [26, [119, 147, 154, 177, 178]],
    ];
    for (const [coarse, fines] of groups) for (const f of fines) expect(COCO_FINE_TO_COARSE[f]).toBe(coarse);
    expect(COCO27_CLASS_NAMES[9]).toBe('person');
    expect(COCO27_CLASS_NAMES[26]).toBe('water');
  });
});

describe('cocoStuff27 on the official layout', () => {
  it('reads the curated list; labels equal the reference mapping (incl. 255 -> -1, palette label)', async () => {
    const ds = await cocoStuff27({ root, split: 'val' });
    expect(ds.length).toBe(2);
    expect(ds.numClasses).toBe(27);
    for (let i = 0; i < items.length; i++) {
      const it = await ds.get(i);
      const ref = items[i]!;
      expect(it.id).toBe(ref.id);
      expect([it.height, it.width]).toEqual([ref.height, ref.width]);
      expect(Array.from(it.label)).toEqual(ref.coarse);
      expect(it.label.filter((v) => v === -1).length).toBeGreaterThanOrEqual(4);
      // libjpeg-turbo in PIL and in libvips decode the same bytes identically
      expect(maxAbsDiff(it.image, ref.decoded)).toBe(0);
    }
    expect(items.some((i) => i.paletteLabel)).toBe(true);
  });

  it('errors clearly for a missing root, a missing list and a bad split', async () => {
    await expect(cocoStuff27({ root: join(root, 'nope'), split: 'val' })).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
      message: expect.stringContaining('curated/val2017'),
    });
    const { root: empty, cleanup: c2 } = tempRoot('coco-empty');
    await expect(cocoStuff27({ root: empty, split: 'train' })).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
      message: expect.stringContaining('Coco164kFull_Stuff_Coarse.txt'),
    });
    c2();
    await expect(cocoStuff27({ root, split: 'test' as 'val' })).rejects.toMatchObject({
      code: 'E_ARG',
      message: expect.stringContaining("expected 'train' or 'val'"),
    });
    await expect(cocoStuff27({ root, split: 'val', crop: 'five' })).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
      message: expect.stringContaining('prepareFiveCrop'),
    });
  });

  it('verify reports only the count against 2,175 on a clean fixture', async () => {
    const report = await verifyDataset(await cocoStuff27({ root, split: 'val' }));
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.kind)).toEqual(['count']);
    expect(report.counts).toEqual({ found: 2, expected: 2175, checked: 2, problems: 1 });
    expect(formatVerifyReport(report)).toContain('expected 2175');
  });
});

describe('prepareFiveCrop round trip (official-behaviour §6.4)', () => {
  it('writes tl, tr, bl, br, center crops as n = item*5 + k with label + 1, readable by the five-crop reader', async () => {
    const ds = await cocoStuff27({ root, split: 'val' });
    const progress: number[] = [];
    const res = await prepareFiveCrop({
      dataset: ds,
      root,
      name: 'cocostuff27',
      split: 'val',
      onProgress: (p) => progress.push(p.done),
    });
    expect(res).toMatchObject({ written: 2, skipped: 0, crops: 10 });
    expect(res.dir).toBe(join(root, 'cropped', 'cocostuff27_five_crop_0.5'));
    expect(progress.sort()).toEqual([1, 2]);
    // raw stored label = class + 1 (0 = ignore), exactly the reference
    const { decodeLabelPng } = await import('../src/index.js');
    const five = await cocoStuff27({ root, split: 'val', crop: 'five' });
    expect(five.length).toBe(10);
    let maxVsPixels = 0;
    let maxVsPil = 0;
    for (const it of items) {
      expect(fiveCropBoxes(it.height, it.width).map((b) => [b.top, b.left, b.height, b.width])).toEqual(
        it.crops.map((c) => c.box),
      );
      for (const c of it.crops) {
        const stored = decodeLabelPng(readFileSync(join(res.dir, 'label', 'val', `${c.n}.png`)));
        expect(Array.from(stored.data)).toEqual(c.label1);
        const got = await five.get(c.n);
        expect(Array.from(got.label)).toEqual(c.label1.map((v) => v - 1));
        expect([got.height, got.width]).toEqual([c.box[2], c.box[3]]);
        maxVsPixels = Math.max(maxVsPixels, maxAbsDiff(got.image, c.pixels));
        maxVsPil = Math.max(maxVsPil, maxAbsDiff(got.image, c.pilJpegDecoded));
      }
    }
    // JPEG q75 is lossy (27 levels off the source here), but with baseline 4:2:0, standard tables
    // and no mozjpeg extras our crops decode to exactly what PIL's quality-75 JPEGs decode to.
    expect(maxVsPixels).toBeGreaterThan(0);
    expect(maxVsPixels).toBeLessThan(40);
    expect(maxVsPil).toBe(0);
  });

  it('resumes: complete items are skipped, a missing crop file is rewritten', async () => {
    const ds = await cocoStuff27({ root, split: 'val' });
    const again = await prepareFiveCrop({ dataset: ds, root, name: 'cocostuff27', split: 'val' });
    expect(again).toMatchObject({ written: 0, skipped: 2 });
    rmSync(join(again.dir, 'img', 'val', '7.jpg'));
    const third = await prepareFiveCrop({ dataset: ds, root, name: 'cocostuff27', split: 'val' });
    expect(third).toMatchObject({ written: 1, skipped: 1 });
    const report = await verifyDataset(await cocoStuff27({ root, split: 'val', crop: 'five' }));
    expect(report.problems.map((p) => p.kind)).toEqual(['count']); // 10 crops vs 5 x 2,175
  });

  it('rejects bad arguments', async () => {
    const ds = await cocoStuff27({ root, split: 'val' });
    await expect(prepareFiveCrop({ dataset: ds, root, name: '../x', split: 'val' })).rejects.toMatchObject({
      code: 'E_ARG',
    });
    expect(() => fiveCropBoxes(10, 10, 0)).toThrow(expect.objectContaining({ code: 'E_ARG' }));
    expect(() => fiveCropBoxes(1, 10)).toThrow(
      expect.objectContaining({ code: 'E_ARG', message: expect.stringContaining('too small') }),
    );
  });
});
