import type { BilateralKernelParams, GaussianKernelParams } from './params.js';

/** Gaussian-kernel features (x/sxy, y/sxy) per pixel, [H·W, 2] (densecrf's DenseCRF2D layout). */
export function positionFeatures(height: number, width: number, p: GaussianKernelParams): Float32Array {
  const f = new Float32Array(height * width * 2);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 2;
      f[i] = x / p.sxy;
      f[i + 1] = y / p.sxy;
    }
  }
  return f;
}

/** Bilateral-kernel features (x/sxy, y/sxy, c0/srgb, c1/srgb, c2/srgb) per pixel, [H·W, 5]. */
export function bilateralFeatures(
  image: Uint8Array,
  height: number,
  width: number,
  p: BilateralKernelParams,
): Float32Array {
  const f = new Float32Array(height * width * 5);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      f[i * 5] = x / p.sxy;
      f[i * 5 + 1] = y / p.sxy;
      f[i * 5 + 2] = image[i * 3]! / p.srgb;
      f[i * 5 + 3] = image[i * 3 + 1]! / p.srgb;
      f[i * 5 + 4] = image[i * 3 + 2]! / p.srgb;
    }
  }
  return f;
}
