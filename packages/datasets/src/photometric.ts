import { HpError } from '@hpseg/core';
import { createRng, type Rng } from './rng.js';
import { imagenetNormalize } from './transforms.js';

const f32 = Math.fround;

/** The random draw of one photometric augmentation, injectable to replay a reference. */
export interface PhotometricParams {
  /** Order of the colour-jitter ops: 0 brightness, 1 contrast, 2 saturation, 3 hue (a permutation). */
  order: readonly number[];
  /** Brightness factor (1 = unchanged). */
  brightness: number;
  /** Contrast factor (1 = unchanged). */
  contrast: number;
  /** Saturation factor (1 = unchanged). */
  saturation: number;
  /** Hue shift in turns, in [−0.5, 0.5]. */
  hue: number;
  /** Convert to 3-channel greyscale after the jitter. */
  grayscale: boolean;
  /** σ of the 5×5 Gaussian blur, or null for no blur. */
  blurSigma: number | null;
}

/** Ranges of the augmentation (defaults: the official `build.py`). */
export interface PhotometricConfig {
  /** ColorJitter brightness: factor ~ U[1−b, 1+b]. Default 0.3. */
  brightness?: number;
  /** ColorJitter contrast. Default 0.3. */
  contrast?: number;
  /** ColorJitter saturation. Default 0.3. */
  saturation?: number;
  /** ColorJitter hue: shift ~ U[−h, h]. Default 0.1. */
  hue?: number;
  /** RandomGrayscale probability. Default 0.2. */
  grayscaleProbability?: number;
  /** RandomApply(GaussianBlur) probability. Default 0.5. */
  blurProbability?: number;
  /** GaussianBlur σ range. Default [0.1, 2.0]. */
  blurSigma?: readonly [number, number];
}

/** Draws the parameters of one augmentation (ColorJitter order and factors, grayscale, blur). */
export function drawPhotometricParams(rng: Rng, config: PhotometricConfig = {}): PhotometricParams {
  const {
    brightness = 0.3,
    contrast = 0.3,
    saturation = 0.3,
    hue = 0.1,
    grayscaleProbability = 0.2,
    blurProbability = 0.5,
    blurSigma = [0.1, 2.0],
  } = config;
  const order = [0, 1, 2, 3];
  for (let i = 3; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return {
    order,
    brightness: rng.uniform(Math.max(0, 1 - brightness), 1 + brightness),
    contrast: rng.uniform(Math.max(0, 1 - contrast), 1 + contrast),
    saturation: rng.uniform(Math.max(0, 1 - saturation), 1 + saturation),
    hue: rng.uniform(-hue, hue),
    grayscale: rng.next() < grayscaleProbability,
    blurSigma: rng.next() < blurProbability ? rng.uniform(blurSigma[0], blurSigma[1]) : null,
  };
}

/** `(ratio·x + (1 − ratio)·other).clamp(0, 1)`; `other` is a constant or one grey value per pixel. */
function blend(x: Float32Array, other: number | Float32Array, ratio: number): Float32Array {
  const r = f32(ratio);
  const q = f32(1 - ratio);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const o = typeof other === 'number' ? other : other[(i / 3) | 0]!;
    const v = f32(f32(r * x[i]!) + f32(q * o));
    out[i] = Math.min(1, Math.max(0, v));
  }
  return out;
}

/** torchvision `rgb_to_grayscale` (0.2989 R + 0.587 G + 0.114 B), one value per pixel. */
function grayscale(x: Float32Array): Float32Array {
  const n = x.length / 3;
  const out = new Float32Array(n);
  for (let p = 0; p < n; p++)
    out[p] = f32(f32(f32(0.2989 * x[p * 3]!) + f32(0.587 * x[p * 3 + 1]!)) + f32(0.114 * x[p * 3 + 2]!));
  return out;
}

function adjustHue(x: Float32Array, shift: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let p = 0; p < x.length; p += 3) {
    const r = x[p]!;
    const g = x[p + 1]!;
    const b = x[p + 2]!;
    // _rgb2hsv, as torchvision writes it (also for values outside [0, 1])
    const maxc = Math.max(r, g, b);
    const minc = Math.min(r, g, b);
    const eqc = maxc === minc;
    const cr = f32(maxc - minc);
    const s = f32(cr / (eqc ? 1 : maxc));
    const div = eqc ? 1 : cr;
    const rc = f32(f32(maxc - r) / div);
    const gc = f32(f32(maxc - g) / div);
    const bc = f32(f32(maxc - b) / div);
    const hr = maxc === r ? f32(bc - gc) : 0;
    const hg = maxc === g && maxc !== r ? f32(f32(2 + rc) - bc) : 0;
    const hb = maxc !== g && maxc !== r ? f32(f32(4 + gc) - rc) : 0;
    let h = f32(f32(hr + hg) + hb);
    h = f32(f32(h / 6) + 1);
    h = f32(h - Math.trunc(h)); // torch.fmod(h, 1); h > 0 here (h/6 + 1 with h in [-1, 5]), exact
    // (h + shift) % 1.0 — torch.remainder
    h = f32(h + f32(shift));
    h = f32(h - Math.floor(h));
    // _hsv2rgb
    const h6 = f32(h * 6);
    const iF = Math.floor(h6);
    const f = f32(h6 - iF);
    const i = ((iF % 6) + 6) % 6;
    const v = maxc;
    const pp = Math.min(1, Math.max(0, f32(v * f32(1 - s))));
    const qq = Math.min(1, Math.max(0, f32(v * f32(1 - f32(s * f)))));
    const tt = Math.min(1, Math.max(0, f32(v * f32(1 - f32(s * f32(1 - f))))));
    // (r, g, b) per sector i, as torchvision's a1/a2/a3 tables
    let o0: number;
    let o1: number;
    let o2: number;
    switch (i) {
      case 0:
        o0 = v;
        o1 = tt;
        o2 = pp;
        break;
      case 1:
        o0 = qq;
        o1 = v;
        o2 = pp;
        break;
      case 2:
        o0 = pp;
        o1 = v;
        o2 = tt;
        break;
      case 3:
        o0 = pp;
        o1 = qq;
        o2 = v;
        break;
      case 4:
        o0 = tt;
        o1 = pp;
        o2 = v;
        break;
      default:
        o0 = v;
        o1 = pp;
        o2 = qq;
    }
    out[p] = o0;
    out[p + 1] = o1;
    out[p + 2] = o2;
  }
  return out;
}

/** torchvision `gaussian_blur` with a square kernel, the same σ on both axes and reflect padding. */
export function gaussianBlur(
  x: Float32Array,
  height: number,
  width: number,
  sigma: number,
  kernelSize = 5,
): Float32Array {
  const half = (kernelSize - 1) / 2;
  if (height <= half || width <= half) {
    throw new HpError(
      'E_SHAPE',
      `gaussianBlur: image too small for reflect padding: expected height and width > ${half}, got ${height}x${width}`,
    );
  }
  const k = new Float32Array(kernelSize);
  let sum = 0;
  for (let i = 0; i < kernelSize; i++) {
    const t = f32(f32(-half + i) / f32(sigma));
    k[i] = f32(Math.exp(f32(-0.5 * f32(t * t))));
    sum = f32(sum + k[i]!);
  }
  for (let i = 0; i < kernelSize; i++) k[i] = f32(k[i]! / sum);
  const reflect = (i: number, n: number): number => (i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i);
  // Separable: rows then columns (torchvision convolves once with the outer product k·kᵀ; the
  // two agree to float32 rounding, ~1e-7).
  const tmp = new Float32Array(x.length);
  const colIdx = Int32Array.from({ length: width * kernelSize }, (_, j) =>
    reflect(((j / kernelSize) | 0) + (j % kernelSize) - half, width),
  );
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let xx = 0; xx < width; xx++) {
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      for (let d = 0; d < kernelSize; d++) {
        const s = (row + colIdx[xx * kernelSize + d]!) * 3;
        const w = k[d]!;
        a0 += w * x[s]!;
        a1 += w * x[s + 1]!;
        a2 += w * x[s + 2]!;
      }
      const o = (row + xx) * 3;
      tmp[o] = a0;
      tmp[o + 1] = a1;
      tmp[o + 2] = a2;
    }
  }
  const out = new Float32Array(x.length);
  for (let y = 0; y < height; y++) {
    const rows = Array.from({ length: kernelSize }, (_, d) => reflect(y + d - half, height) * width);
    for (let xx = 0; xx < width; xx++) {
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      for (let d = 0; d < kernelSize; d++) {
        const s = (rows[d]! + xx) * 3;
        const w = k[d]!;
        a0 += w * tmp[s]!;
        a1 += w * tmp[s + 1]!;
        a2 += w * tmp[s + 2]!;
      }
      const o = (y * width + xx) * 3;
      out[o] = a0;
      out[o + 1] = a1;
      out[o + 2] = a2;
    }
  }
  return out;
}

/**
 * Applies one drawn augmentation to float32 `[H, W, 3]` with torchvision's tensor semantics:
 * brightness = blend with zeros, contrast = blend with the mean grey level, saturation = blend with
 * grey, each clamped to [0, 1]; hue via RGB→HSV→RGB; then greyscale and blur if drawn.
 */
export function applyPhotometric(
  x: Float32Array,
  height: number,
  width: number,
  params: PhotometricParams,
): Float32Array {
  if (x.length !== height * width * 3) {
    throw new HpError(
      'E_SHAPE',
      `applyPhotometric: image has the wrong length: expected ${height}*${width}*3 = ${height * width * 3}, got ${x.length}`,
    );
  }
  const sorted = [...params.order].sort();
  if (sorted.length !== 4 || sorted.some((v, i) => v !== i)) {
    throw new HpError(
      'E_ARG',
      `applyPhotometric: order must be a permutation of [0, 1, 2, 3]: expected 4 distinct ops, got [${params.order.join(', ')}]`,
    );
  }
  if (!(params.hue >= -0.5 && params.hue <= 0.5))
    throw new HpError('E_ARG', `applyPhotometric: hue out of range: expected [-0.5, 0.5], got ${params.hue}`);
  let img = x;
  for (const op of params.order) {
    if (op === 0) img = blend(img, 0, params.brightness);
    else if (op === 1) {
      const g = grayscale(img);
      let mean = 0;
      for (let i = 0; i < g.length; i++) mean += g[i]!;
      const m = f32(mean / g.length);
      img = blend(img, m, params.contrast);
    } else if (op === 2) {
      const g = grayscale(img);
      img = blend(img, g, params.saturation);
    } else img = adjustHue(img, params.hue);
  }
  if (params.grayscale) {
    const g = grayscale(img);
    const out = new Float32Array(img.length);
    for (let p = 0; p < g.length; p++) out.fill(g[p]!, p * 3, p * 3 + 3);
    img = out;
  }
  if (params.blurSigma !== null) img = gaussianBlur(img, height, width, params.blurSigma);
  return img === x ? new Float32Array(x) : img;
}

export interface AugmentedViewOptions {
  /**
   * `'image'` (default, correct): augment the [0,1] image, then ImageNet-normalise.
   * `'official'`: augment the already-normalised tensor, as the official code does; torchvision's
   * blends clamp it to [0,1] and the result is returned un-normalised (bit-faithful runs).
   */
  mode?: 'image' | 'official';
  /** Use this draw instead of drawing one. */
  params?: PhotometricParams;
  /** Generator for the draw (else one is made from `seed`). */
  rng?: Rng;
  /** Seed of the draw when neither `params` nor `rng` is given. Default 0. */
  seed?: number;
  config?: PhotometricConfig;
}

/**
 * The photometric augmented view `img_aug` (official-behaviour §4.3) of a uint8 `[H, W, 3]` image: returns the
 * float32 `[H, W, 3]` model input and the parameters that were used.
 */
export function augmentedView(
  image: Uint8Array,
  height: number,
  width: number,
  options: AugmentedViewOptions = {},
): { data: Float32Array; params: PhotometricParams } {
  const { mode = 'image' } = options;
  if (mode !== 'image' && mode !== 'official')
    throw new HpError(
      'E_ARG',
      `augmentedView: unknown mode: expected 'image' or 'official', got ${JSON.stringify(mode)}`,
    );
  if (image.length !== height * width * 3) {
    throw new HpError(
      'E_SHAPE',
      `augmentedView: image has the wrong length: expected ${height}*${width}*3 = ${height * width * 3}, got ${image.length}`,
    );
  }
  const params =
    options.params ?? drawPhotometricParams(options.rng ?? createRng(options.seed ?? 0), options.config);
  if (mode === 'official')
    return { data: applyPhotometric(imagenetNormalize(image), height, width, params), params };
  const unit = new Float32Array(image.length);
  for (let i = 0; i < image.length; i++) unit[i] = image[i]! / 255;
  return { data: imagenetNormalize(applyPhotometric(unit, height, width, params)), params };
}
