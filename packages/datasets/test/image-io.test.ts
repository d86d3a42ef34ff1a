import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage, encodeJpeg } from '../src/index.js';

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
