import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  centerCrop,
  centerCropOffsets,
  cropItem,
  type DatasetItem,
  evalView,
  imagenetNormalize,
  pilNearestIndices,
  resizeNearest,
  resizeShorterNearest,
  roundHalfEven,
  shorterSideSize,
  trainView,
} from '../src/index.js';

interface Fixture {
  views: {
    height: number;
    width: number;
    size: number;
    image: number[];
    label: number[];
    outImage: number[];
    outLabel: number[];
  }[];
  nearest: { in: number; out: number; indices: number[] }[];
  resize: {
    height: number;
    width: number;
    size: number;
    resized: [number, number];
    cropOffsets: [number, number];
  }[];
  centerCrop: { height: number; width: number; crop: [number, number]; offsets: [number, number] }[];
}
const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/transforms.json', import.meta.url), 'utf8'),
) as Fixture;

/** An item whose pixel (y, x) encodes its coordinates: label = y*W + x, image = (y, x, y+x) mod 256. */
function coordItem(height: number, width: number): DatasetItem {
  const label = new Int32Array(height * width);
  const image = new Uint8Array(height * width * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      label[p] = p;
      image.set([y % 256, x % 256, (y + x) % 256], p * 3);
    }
  return { image, label, height, width, id: 'coord' };
}

describe('PIL NEAREST indices', () => {
  it.each(fixture.nearest.map((n) => [n.in, n.out, n.indices] as const))(
    '%i -> %i equals PIL 9.4',
    (a, b, idx) => {
      expect(Array.from(pilNearestIndices(a, b))).toEqual(idx);
    },
  );
  it('differs from the naive floor((x+0.5)*in/out) where PIL does (640 -> 224)', () => {
    const naive = Array.from({ length: 224 }, (_, x) => Math.floor(((x + 0.5) * 640) / 224));
    const pil = fixture.nearest.find((n) => n.in === 640 && n.out === 224)!.indices;
    expect(naive).not.toEqual(pil); // the reason we accumulate like PIL
    expect(Array.from(pilNearestIndices(640, 224))).toEqual(pil);
  });
});

describe('torchvision Resize(int) and CenterCrop', () => {
  it.each(fixture.resize.map((r) => [r.height, r.width, r.size, r] as const))('%ix%i -> %i', (h, w, s, r) => {
    expect(shorterSideSize(h, w, s)).toEqual(r.resized);
    expect(centerCropOffsets(r.resized[0], r.resized[1], s, s)).toEqual(r.cropOffsets);
  });
  it.each(fixture.centerCrop.map((c) => [c.height, c.width, c] as const))(
    'center crop offsets of %ix%i (half-to-even)',
    (h, w, c) => {
      expect(centerCropOffsets(h, w, c.crop[0], c.crop[1])).toEqual(c.offsets);
    },
  );
  it('roundHalfEven is Python round', () => {
    expect([0.5, 1.5, 2.5, 3.5, -0.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, 4, -0, 2, 3]);
  });
});

describe('trainView equals PIL resize(NEAREST) + crop on whole images', () => {
  it.each(fixture.views.map((v) => [v.height, v.width, v.size, v] as const))('%ix%i -> %i', (h, w, s, v) => {
    const out = trainView(
      { image: Uint8Array.from(v.image), label: Int32Array.from(v.label), height: h, width: w, id: 'v' },
      s,
    );
    expect([out.height, out.width]).toEqual([s, s]);
    expect(Array.from(out.image)).toEqual(v.outImage);
    expect(Array.from(out.label)).toEqual(v.outLabel);
  });
});

describe('item transforms pick PIL source pixels', () => {
  it('resizeShorterNearest + centerCrop = trainView with exact source indices (480x640 -> 224)', () => {
    const item = coordItem(48, 64);
    const out = trainView(item, 24);
    const [rh, rw] = shorterSideSize(48, 64, 24); // 24 x 32
    expect([rh, rw]).toEqual([24, 32]);
    const rows = pilNearestIndices(48, rh);
    const cols = pilNearestIndices(64, rw);
    const [top, left] = centerCropOffsets(rh, rw, 24, 24);
    expect([top, left]).toEqual([0, 4]);
    for (let y = 0; y < 24; y++)
      for (let x = 0; x < 24; x++) {
        const sy = rows[y + top]!;
        const sx = cols[x + left]!;
        expect(out.label[y * 24 + x]).toBe(sy * 64 + sx);
        expect(out.image[(y * 24 + x) * 3]).toBe(sy);
        expect(out.image[(y * 24 + x) * 3 + 1]).toBe(sx);
      }
  });
  it('evalView of a 1024x2048 Cityscapes-like frame keeps the central 320x320 of 320x640', () => {
    const item = coordItem(102, 204);
    const out = evalView(item, 32);
    expect([out.height, out.width]).toEqual([32, 32]);
    const cols = pilNearestIndices(204, 64);
    const rows = pilNearestIndices(102, 32);
    // 102x204 -> 32x64, then the central 32x32 starts at column (64-32)/2 = 16
    expect(out.label[0]).toBe(rows[0]! * 204 + cols[16]!);
    expect(out.label[32 * 32 - 1]).toBe(rows[31]! * 204 + cols[47]!);
  });
  it('resizeNearest upsamples by repetition and keeps -1', () => {
    const item: DatasetItem = {
      image: new Uint8Array([1, 2, 3, 4, 5, 6]),
      label: new Int32Array([-1, 7]),
      height: 1,
      width: 2,
      id: 'x',
    };
    const out = resizeNearest(item, 2, 4);
    expect(Array.from(out.label)).toEqual([-1, -1, 7, 7, -1, -1, 7, 7]);
    expect(Array.from(out.image.slice(0, 6))).toEqual([1, 2, 3, 1, 2, 3]);
  });
  it('resizeShorterNearest leaves an item whose short side already matches unchanged', () => {
    const item = coordItem(24, 30);
    expect(resizeShorterNearest(item, 24)).toBe(item);
  });
  it('cropItem and centerCrop reject windows outside the image', () => {
    const item = coordItem(10, 10);
    expect(() => cropItem(item, 5, 5, 6, 2)).toThrow(
      expect.objectContaining({
        code: 'E_ARG',
        message: expect.stringContaining('window outside the image'),
      }),
    );
    expect(() => centerCrop(item, 11)).toThrow(
      expect.objectContaining({
        code: 'E_ARG',
        message: expect.stringContaining('crop larger than the image'),
      }),
    );
    expect(() => trainView(item, 0)).toThrow(expect.objectContaining({ code: 'E_ARG' }));
    expect(() => trainView({ ...item, label: new Int32Array(3) }, 4)).toThrow(
      expect.objectContaining({ code: 'E_SHAPE' }),
    );
  });
});

describe('imagenetNormalize', () => {
  it('normalises like ToTensor + Normalize', () => {
    const out = imagenetNormalize(new Uint8Array([0, 128, 255]));
    expect(out[0]).toBeCloseTo((0 - 0.485) / 0.229, 6);
    expect(out[1]).toBeCloseTo((128 / 255 - 0.456) / 0.224, 6);
    expect(out[2]).toBeCloseTo((1 - 0.406) / 0.225, 6);
    expect(() => imagenetNormalize(new Uint8Array(4))).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
  });
  it('is bit-exact with torch float32 (x/255 - 0.456) / 0.224 on the green channel', () => {
    // values printed by torch 1.13: torch.arange(256).float().div(255), (x - tensor(0.456)) / tensor(0.224)
    const pixels = [0, 1, 77, 128, 200, 255];
    const expected = [
      -2.0357141494750977, -2.018207311630249, -0.6876749992370605, 0.20518219470977783, 1.465686321258545,
      2.4285714626312256,
    ];
    const img = new Uint8Array(pixels.length * 3);
    pixels.forEach((p, i) => {
      img[i * 3 + 1] = p;
    });
    const out = imagenetNormalize(img);
    expect(pixels.map((_, i) => out[i * 3 + 1])).toEqual(expected);
  });
});
