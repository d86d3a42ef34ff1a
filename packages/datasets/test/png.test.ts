import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeLabelPng, encodeGrayPng } from '../src/index.js';

const dir = new URL('./fixtures/png/', import.meta.url);
const expected = JSON.parse(readFileSync(new URL('png.json', dir), 'utf8')) as Record<
  string,
  { shape: number[]; values: number[]; mode: string }
>;
const read = (name: string) => new Uint8Array(readFileSync(new URL(name, dir)));

describe('decodeLabelPng (PIL-written fixtures)', () => {
  it.each(Object.keys(expected))('%s decodes to the stored values (palette -> index, not colour)', (name) => {
    const e = expected[name]!;
    const png = decodeLabelPng(read(name), name);
    expect([png.height, png.width]).toEqual(e.shape);
    expect(Array.from(png.data)).toEqual(e.values);
  });
  it('sharp expands palettes to colours, which is why labels do not go through it', async () => {
    const { data, info } = await sharp(read('palette8.png')).raw().toBuffer({ resolveWithObject: true });
    expect(info.channels).toBe(3);
    const first = expected['palette8.png']!.values[1]!;
    expect(data[3]).not.toBe(first); // pixel (0,1): colour (i*37+11)%256, not the index
    expect(data[3]).toBe((first * 3 * 37 + 11) % 256);
  });
  it('refuses RGB label maps and non-PNG bytes with E_FORMAT', () => {
    expect(() => decodeLabelPng(read('rgb.png'), 'rgb.png')).toThrow(
      expect.objectContaining({ code: 'E_FORMAT', message: expect.stringContaining('colour channels') }),
    );
    expect(() => decodeLabelPng(new Uint8Array([1, 2, 3]))).toThrow(
      expect.objectContaining({ code: 'E_FORMAT', message: expect.stringContaining('not a PNG') }),
    );
    const truncated = read('gray8.png').subarray(0, 50);
    expect(() => decodeLabelPng(truncated)).toThrow(expect.objectContaining({ code: 'E_FORMAT' }));
  });
  it('reads interlaced (Adam7) greyscale written by libvips', async () => {
    const h = 13;
    const w = 11;
    const values = Uint8Array.from({ length: h * w }, (_, i) => (i * 7) % 256);
    const png = await sharp(values, { raw: { width: w, height: h, channels: 1 } })
      .toColourspace('b-w')
      .png({ progressive: true })
      .toBuffer();
    expect(png[28]).toBe(1); // IHDR interlace byte
    expect(Array.from(decodeLabelPng(new Uint8Array(png)).data)).toEqual(Array.from(values));
  });
  it('encodeGrayPng round-trips and sharp reads it as 8-bit greyscale', async () => {
    const values = Uint8Array.from({ length: 6 * 5 }, (_, i) => (i * 9) % 256);
    const png = encodeGrayPng(values, 6, 5);
    expect(Array.from(decodeLabelPng(png).data)).toEqual(Array.from(values));
    const meta = await sharp(png).metadata();
    expect([meta.width, meta.height, meta.channels, meta.format]).toEqual([5, 6, 1, 'png']);
    expect(() => encodeGrayPng(values, 5, 5)).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
  });
});
