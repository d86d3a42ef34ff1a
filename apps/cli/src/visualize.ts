import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '@hpseg/core';
import sharp from 'sharp';

/** A fixed, well-separated palette (first 27 classes), then a hashed colour per index. */
const BASE_PALETTE: readonly (readonly [number, number, number])[] = [
  [230, 25, 75],
  [60, 180, 75],
  [255, 225, 25],
  [0, 130, 200],
  [245, 130, 48],
  [145, 30, 180],
  [70, 240, 240],
  [240, 50, 230],
  [210, 245, 60],
  [250, 190, 212],
  [0, 128, 128],
  [220, 190, 255],
  [170, 110, 40],
  [255, 250, 200],
  [128, 0, 0],
  [170, 255, 195],
  [128, 128, 0],
  [255, 215, 180],
  [0, 0, 128],
  [128, 128, 128],
  [255, 255, 255],
  [0, 0, 0],
  [100, 149, 237],
  [46, 139, 87],
  [218, 112, 214],
  [139, 69, 19],
  [72, 61, 139],
];

export function paletteColour(index: number): readonly [number, number, number] {
  if (index < 0) return [0, 0, 0];
  const base = BASE_PALETTE[index];
  if (base) return base;
  const h = Math.imul(index + 1, 2654435761) >>> 0;
  return [h & 255, (h >>> 8) & 255, (h >>> 16) & 255];
}

/** `[H, W]` labels → `[H, W, 3]` RGB (−1 = black). */
export function colourise(labels: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(labels.length * 3);
  for (let i = 0; i < labels.length; i++) {
    const [r, g, b] = paletteColour(labels[i] as number);
    out[i * 3] = r;
    out[i * 3 + 1] = g;
    out[i * 3 + 2] = b;
  }
  return out;
}

/** 50 % blend of the label colours over the image. */
export function overlay(image: Uint8Array, colours: Uint8Array, alpha = 0.5): Uint8Array {
  const out = new Uint8Array(image.length);
  for (let i = 0; i < image.length; i++) {
    out[i] = Math.round((1 - alpha) * (image[i] as number) + alpha * (colours[i] as number));
  }
  return out;
}

/** Writes an RGB `[H, W, 3]` PNG atomically. */
export async function writeRgbPng(
  path: string,
  rgb: Uint8Array,
  height: number,
  width: number,
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const png = await sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), {
    raw: { width, height, channels: 3 },
  })
    .png()
    .toBuffer();
  await writeFileAtomic(path, png);
}

/** Images side by side (same height), with a 2-pixel white gap. */
export function hstack(
  images: readonly Uint8Array[],
  height: number,
  width: number,
): { rgb: Uint8Array; width: number } {
  const gap = 2;
  const total = images.length * width + (images.length - 1) * gap;
  const out = new Uint8Array(height * total * 3).fill(255);
  images.forEach((img, k) => {
    for (let y = 0; y < height; y++) {
      out.set(img.subarray(y * width * 3, (y + 1) * width * 3), (y * total + k * (width + gap)) * 3);
    }
  });
  return { rgb: out, width: total };
}

/** Legend: one row of `swatch + nothing` per class (names go to legend.json). */
export function legendImage(count: number, swatch = 16): { rgb: Uint8Array; height: number; width: number } {
  const height = count * swatch;
  const out = new Uint8Array(height * swatch * 3);
  for (let k = 0; k < count; k++) {
    const [r, g, b] = paletteColour(k);
    for (let y = k * swatch; y < (k + 1) * swatch; y++) {
      for (let x = 0; x < swatch; x++) {
        const p = (y * swatch + x) * 3;
        out[p] = r;
        out[p + 1] = g;
        out[p + 2] = b;
      }
    }
  }
  return { rgb: out, height, width: swatch };
}
