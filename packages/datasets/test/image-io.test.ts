import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage, encodeJpeg, resizeImageLinear } from '../src/index.js';

describe('decodeImage', () => {
  it('ignores an embedded ICC profile, like PIL (stored values, not colour-managed ones)', async () => {
    const raw = Uint8Array.from({ length: 4 * 4 * 3 }, (_, i) => (i * 37) % 256);
    const png = new Uint8Array(
      await sharp(raw, { raw: { width: 4, height: 4, channels: 3 } })
        .withIccProfile('p3')
        .png()
        .toBuffer(),
    );
    const img = await decodeImage(png);
    // Values PIL 9.4 returned for this very file (np.array(Image.open(p).convert('RGB'))), checked by hand:
    expect(Array.from(img.data.subarray(0, 9))).toEqual([11, 36, 71, 119, 147, 182, 204, 44, 49]);
    const managed = await sharp(png).raw().toBuffer();
    expect(Array.from(managed.subarray(0, 9))).not.toEqual([11, 36, 71, 119, 147, 182, 204, 44, 49]);
  });
  it('greyscale and RGBA inputs become 3-channel RGB', async () => {
    const grey = await sharp(Uint8Array.from([0, 50, 100, 150]), {
      raw: { width: 2, height: 2, channels: 1 },
    })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    expect(Array.from((await decodeImage(new Uint8Array(grey))).data)).toEqual([
      0, 0, 0, 50, 50, 50, 100, 100, 100, 150, 150, 150,
    ]);
    const rgba = await sharp(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]), {
      raw: { width: 2, height: 1, channels: 4 },
    })
      .png()
      .toBuffer();
    expect(Array.from((await decodeImage(new Uint8Array(rgba))).data)).toEqual([1, 2, 3, 5, 6, 7]);
  });
  it('rejects garbage with E_FORMAT naming the source', async () => {
    await expect(decodeImage(new Uint8Array([1, 2, 3]), 'x.jpg')).rejects.toMatchObject({
      code: 'E_FORMAT',
      message: expect.stringContaining('x.jpg'),
    });
  });
  it('encodeJpeg writes a baseline 4:2:0 JPEG and checks its input', async () => {
    const img = Uint8Array.from({ length: 16 * 16 * 3 }, (_, i) => (i * 5) % 256);
    const jpg = await encodeJpeg(img, 16, 16);
    const meta = await sharp(jpg).metadata();
    expect([meta.format, meta.chromaSubsampling, meta.isProgressive]).toEqual(['jpeg', '4:2:0', false]);
    await expect(encodeJpeg(img, 16, 15)).rejects.toMatchObject({ code: 'E_SHAPE' });
    await expect(encodeJpeg(img, 16, 16, 0)).rejects.toMatchObject({ code: 'E_ARG' });
  });
});

describe('resizeImageLinear', () => {
  it('keeps a constant image constant, keeps a ramp monotone, returns a same-size image as is, checks sizes', async () => {
    const flat = { data: new Uint8Array(6 * 8 * 3).fill(77), height: 6, width: 8 };
    const small = await resizeImageLinear(flat, 3, 5);
    expect([small.height, small.width, small.data.length]).toEqual([3, 5, 45]);
    expect(new Set(small.data)).toEqual(new Set([77]));
    const ramp = Uint8Array.from({ length: 2 * 8 * 3 }, (_, i) => 30 * (Math.floor(i / 3) % 8)); // 0..210 left to right
    const r = await resizeImageLinear({ data: ramp, height: 2, width: 8 }, 1, 4);
    const row = [0, 1, 2, 3].map((x) => r.data[3 * x]!);
    expect(row).toEqual([...row].sort((a, b) => a - b));
    expect(row[0]).toBeLessThan(row[3]!);
    expect(await resizeImageLinear(flat, 6, 8)).toBe(flat);
    await expect(resizeImageLinear({ ...flat, height: 5 }, 1, 1)).rejects.toMatchObject({ code: 'E_SHAPE' });
    await expect(resizeImageLinear(flat, 0, 4)).rejects.toMatchObject({ code: 'E_ARG' });
  });
});
