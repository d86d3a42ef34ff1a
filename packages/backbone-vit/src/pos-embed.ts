import { HpError } from '@hpseg/core';

/** PyTorch's cubic convolution coefficient (`upsample_bicubic2d`, Keys with A = -0.75). */
const A = -0.75;

/** f32 rounding, to follow PyTorch's float32 index arithmetic. */
const f32 = Math.fround;

function cubic1(x: number): number {
  return ((A + 2) * x - (A + 3)) * x * x + 1; // |x| <= 1
}
function cubic2(x: number): number {
  return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; // 1 < |x| < 2
}

/**
 * Taps and weights of one output axis of PyTorch's bicubic resize with a given `scale_factor` and
 * `align_corners=False`: source coordinate `(dst + 0.5) / scale - 0.5` (PyTorch >= 1.6 uses the given
 * scale, not in/out), 4 taps around it clamped to the border.
 */
function axisTaps(
  inSize: number,
  outSize: number,
  scaleFactor: number,
): { index: Int32Array; weight: Float64Array } {
  const index = new Int32Array(outSize * 4);
  const weight = new Float64Array(outSize * 4);
  const scale = f32(1 / scaleFactor);
  for (let i = 0; i < outSize; i++) {
    const src = f32(f32(scale * f32(i + 0.5)) - 0.5);
    const i0 = Math.floor(src);
    const t = f32(src - i0);
    const w = [cubic2(t + 1), cubic1(t), cubic1(1 - t), cubic2(2 - t)];
    for (let j = 0; j < 4; j++) {
      index[i * 4 + j] = Math.min(Math.max(i0 - 1 + j, 0), inSize - 1);
      weight[i * 4 + j] = w[j]!;
    }
  }
  return { index, weight };
}

/**
 * Bicubic resize of a token-major grid `[inH, inW, C]` (row-major Float32Array) to `[outH, outW, C]`, exactly
 * as `F.interpolate(x, scale_factor=(sy, sx), mode='bicubic', align_corners=False)` on the NCHW tensor.
 */
export function bicubicResizeGrid(
  grid: Float32Array,
  inH: number,
  inW: number,
  channels: number,
  outH: number,
  outW: number,
  scaleY: number,
  scaleX: number,
): Float32Array {
  if (grid.length !== inH * inW * channels) {
    throw new HpError(
      'E_SHAPE',
      `bicubicResizeGrid: grid has the wrong length: expected ${inH}*${inW}*${channels} = ${inH * inW * channels}, got ${grid.length}`,
    );
  }
  const ty = axisTaps(inH, outH, scaleY);
  const tx = axisTaps(inW, outW, scaleX);
  const out = new Float32Array(outH * outW * channels);
  const acc = new Float64Array(channels);
  for (let oy = 0; oy < outH; oy++) {
    for (let ox = 0; ox < outW; ox++) {
      acc.fill(0);
      for (let j = 0; j < 4; j++) {
        const y = ty.index[oy * 4 + j]!;
        const wy = ty.weight[oy * 4 + j]!;
        for (let i = 0; i < 4; i++) {
          const w = wy * tx.weight[ox * 4 + i]!;
          const base = (y * inW + tx.index[ox * 4 + i]!) * channels;
          for (let c = 0; c < channels; c++) acc[c]! += w * grid[base + c]!;
        }
      }
      out.set(acc, (oy * outW + ox) * channels);
    }
  }
  return out;
}

/**
 * The positional embedding `[1 + h*w, C]` (CLS row first) for an input of `h x w` patches, as DINO's
 * `interpolate_pos_encoding`: unchanged when the grid is the trained one and the image is square; otherwise
 * the patch part is resized bicubically with `scale_factor = ((h + 0.1)/g, (w + 0.1)/g)`. The `+0.1` is
 * DINO's guard against floor errors in the output size (facebookresearch/dino issue #8); PyTorch then uses
 * that factor for the source coordinates, so `1/scale = g/(h + 0.1)`, not `g/h`.
 *
 * `posEmbed` is the checkpoint's `[1, 1 + g*g, C]` tensor as a flat Float32Array.
 */
export function interpolatePosEmbed(
  posEmbed: Float32Array,
  trainedGrid: number,
  channels: number,
  h: number,
  w: number,
): Float32Array {
  const g = trainedGrid;
  // DINO: `if npatch == N and w == h: return pos_embed` (for patch multiples, H == W iff h == w)
  if (h === g && w === g) return posEmbed.slice();
  const patch = posEmbed.subarray(channels);
  const resized = bicubicResizeGrid(patch, g, g, channels, h, w, (h + 0.1) / g, (w + 0.1) / g);
  const out = new Float32Array((1 + h * w) * channels);
  out.set(posEmbed.subarray(0, channels), 0);
  out.set(resized, channels);
  return out;
}
