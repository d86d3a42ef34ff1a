import { HpError, IMAGENET_MEAN, IMAGENET_STD } from '@hpseg/core';
import { assertItem, type DatasetItem } from './item.js';

/** ImageNet channel means and standard deviations (RGB, [0,1] units), as `T.Normalize` in the official code: the table of @hpseg/core. */
export { IMAGENET_MEAN, IMAGENET_STD };

/**
 * Source index of every output pixel along one axis for PIL's NEAREST resize.
 * PIL (`ImagingScaleAffine`) starts at `in/out * 0.5` and adds `in/out` per pixel, truncating;
 * we reproduce that accumulation (not `floor((x+0.5)·in/out)`, which can differ by one ulp-step).
 */
export function pilNearestIndices(inSize: number, outSize: number): Int32Array {
  const scale = inSize / outSize;
  const out = new Int32Array(outSize);
  let pos = scale * 0.5;
  for (let x = 0; x < outSize; x++) {
    out[x] = Math.min(inSize - 1, Math.max(0, Math.trunc(pos)));
    pos += scale;
  }
  return out;
}

/**
 * Output size of torchvision `Resize(size)` with an int: the shorter side becomes `size`, the longer
 * `int(size * long / short)` (truncation). Returns `[height, width]`.
 */
export function shorterSideSize(height: number, width: number, size: number): [number, number] {
  if (width <= height) return [Math.trunc((size * height) / width), size];
  return [size, Math.trunc((size * width) / height)];
}

/** Python's `round` (half to even), as torchvision's `CenterCrop` uses it. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function checkSize(fn: string, what: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) {
    throw new HpError(
      'E_ARG',
      `${fn}: ${what} must be a positive integer: expected an integer >= 1, got ${String(v)}`,
    );
  }
}

/** NEAREST resize of an item (image and label alike) to exactly `height × width`, PIL semantics. */
export function resizeNearest(item: DatasetItem, height: number, width: number): DatasetItem {
  assertItem('resizeNearest', item);
  checkSize('resizeNearest', 'height', height);
  checkSize('resizeNearest', 'width', width);
  if (height === item.height && width === item.width) return item;
  const rows = pilNearestIndices(item.height, height);
  const cols = pilNearestIndices(item.width, width);
  const image = new Uint8Array(height * width * 3);
  const label = new Int32Array(height * width);
  for (let y = 0; y < height; y++) {
    const sy = rows[y]! * item.width;
    for (let x = 0; x < width; x++) {
      const s = sy + cols[x]!;
      const d = y * width + x;
      label[d] = item.label[s]!;
      image[d * 3] = item.image[s * 3]!;
      image[d * 3 + 1] = item.image[s * 3 + 1]!;
      image[d * 3 + 2] = item.image[s * 3 + 2]!;
    }
  }
  return { image, label, height, width, id: item.id };
}

/** torchvision `Resize(size, NEAREST)`: shorter side → `size`, aspect kept with truncation. */
export function resizeShorterNearest(item: DatasetItem, size: number): DatasetItem {
  checkSize('resizeShorterNearest', 'size', size);
  assertItem('resizeShorterNearest', item);
  const [h, w] = shorterSideSize(item.height, item.width, size);
  // torchvision returns the image unchanged when the short side already equals `size`.
  return resizeNearest(item, h, w);
}

/** Copies the window `[top, top+height) × [left, left+width)` of an item. */
export function cropItem(
  item: DatasetItem,
  top: number,
  left: number,
  height: number,
  width: number,
): DatasetItem {
  assertItem('cropItem', item);
  checkSize('cropItem', 'height', height);
  checkSize('cropItem', 'width', width);
  if (
    !Number.isInteger(top) ||
    !Number.isInteger(left) ||
    top < 0 ||
    left < 0 ||
    top + height > item.height ||
    left + width > item.width
  ) {
    throw new HpError(
      'E_ARG',
      `cropItem: window outside the image: expected top+height <= ${item.height} and left+width <= ${item.width} with top, left >= 0, got top=${top} left=${left} ${height}x${width}`,
    );
  }
  const image = new Uint8Array(height * width * 3);
  const label = new Int32Array(height * width);
  for (let y = 0; y < height; y++) {
    const s = (top + y) * item.width + left;
    label.set(item.label.subarray(s, s + width), y * width);
    image.set(item.image.subarray(s * 3, (s + width) * 3), y * width * 3);
  }
  return { image, label, height, width, id: item.id };
}

/** Offsets of torchvision `CenterCrop`: `int(round((H − h) / 2))` with Python's half-to-even rounding. */
export function centerCropOffsets(
  height: number,
  width: number,
  cropHeight: number,
  cropWidth: number,
): [number, number] {
  return [roundHalfEven((height - cropHeight) / 2), roundHalfEven((width - cropWidth) / 2)];
}

/** torchvision `CenterCrop(size)` (square) or `CenterCrop([h, w])`. The crop must fit in the item. */
export function centerCrop(item: DatasetItem, size: number | readonly [number, number]): DatasetItem {
  const [ch, cw] = typeof size === 'number' ? [size, size] : size;
  checkSize('centerCrop', 'crop height', ch);
  checkSize('centerCrop', 'crop width', cw);
  if (ch > item.height || cw > item.width) {
    throw new HpError(
      'E_ARG',
      `centerCrop: crop larger than the image: expected at most ${item.height}x${item.width}, got ${ch}x${cw}`,
    );
  }
  const [top, left] = centerCropOffsets(item.height, item.width, ch, cw);
  return cropItem(item, top, left, ch, cw);
}

/** The official training view (official-behaviour §4.2): shorter side → `size` with NEAREST, centre crop `size`. */
export function trainView(item: DatasetItem, size = 224): DatasetItem {
  return centerCrop(resizeShorterNearest(item, size), size);
}

/** The official evaluation view (official-behaviour §5): the same as `trainView` at 320 px. */
export function evalView(item: DatasetItem, size = 320): DatasetItem {
  return centerCrop(resizeShorterNearest(item, size), size);
}

/** `[H, W, 3]` uint8 → `[H, W, 3]` float32 in `[0, 1]` (`ToTensor`, channels last). */
export function toUnitFloat(image: Uint8Array): Float32Array {
  const out = new Float32Array(image.length);
  for (let i = 0; i < image.length; i++) out[i] = image[i]! / 255;
  return out;
}

/**
 * ImageNet normalisation: `(x/255 − mean) / std` per channel. Accepts uint8 `[H,W,3]` (0..255)
 * or float32 `[H,W,3]` already in `[0, 1]`; returns float32 `[H,W,3]`.
 */
export function imagenetNormalize(image: Uint8Array | Float32Array): Float32Array {
  if (image.length % 3 !== 0) {
    throw new HpError(
      'E_SHAPE',
      `imagenetNormalize: image must be [H, W, 3]: expected a length divisible by 3, got ${image.length}`,
    );
  }
  const out = new Float32Array(image.length);
  const isByte = image instanceof Uint8Array;
  // float32 throughout, like torchvision: x/255, then (x − mean) / std with float32 mean and std
  const mean = IMAGENET_MEAN.map(Math.fround);
  const std = IMAGENET_STD.map(Math.fround);
  for (let i = 0; i < image.length; i += 3) {
    for (let c = 0; c < 3; c++) {
      const x = isByte ? Math.fround(image[i + c]! / 255) : image[i + c]!;
      out[i + c] = Math.fround(x - mean[c]!) / std[c]!;
    }
  }
  return out;
}

/** Inverse of `imagenetNormalize`: normalised float32 `[H,W,3]` → float32 in image units `[0,1]` (not clamped). */
export function imagenetDenormalize(image: Float32Array): Float32Array {
  const out = new Float32Array(image.length);
  for (let i = 0; i < image.length; i++) {
    const c = i % 3;
    out[i] = image[i]! * IMAGENET_STD[c]! + IMAGENET_MEAN[c]!;
  }
  return out;
}
