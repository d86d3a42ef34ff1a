import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';

/** A fresh temporary folder and a function that removes it. */
export function tempRoot(prefix: string): { root: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), `hpseg-datasets-${prefix}-`));
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

export function put(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
}

/** Lossless RGB PNG of `[H, W, 3]` uint8. */
export async function rgbPng(data: Uint8Array, height: number, width: number): Promise<Uint8Array> {
  return new Uint8Array(
    await sharp(data, { raw: { width, height, channels: 3 } })
      .png()
      .toBuffer(),
  );
}

export function patternImage(height: number, width: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: height * width * 3 }, (_, i) => (i * 31 + seed * 17) % 256);
}
