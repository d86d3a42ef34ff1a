/**
 * The fused engine of `localPositiveWeights` (official-behaviour §3.7 steps 1–5): the same steps as the TF.js ops of
 * local-positives.ts, one attention row at a time on the host, in float32 where the TF.js engine rounds
 * (float64 only inside sums). The TF.js engine runs a dozen [P, P] passes per image on one wasm thread,
 * among them a full top-k sort to read two quantiles and a strided copy of the attention slice; here a
 * row is read once, its two quantiles come from one sort of P values, and only the 9 window entries
 * are written. No tensor is created but the result.
 */
const f = Math.fround;

/** torch.quantile's linear interpolation on an ascending row, in float32 as `rowQuantile`. */
function quantile(sorted: Float32Array, q: number): number {
  const pos = q * (sorted.length - 1);
  const below = Math.floor(pos);
  const above = Math.ceil(pos);
  const lo = sorted[below]!;
  if (above === below) return lo;
  const hi = sorted[above]!;
  const frac = pos - below;
  const diff = f(hi - lo);
  // torch.lerp: a + w·(b − a) for w < 0.5, b − (b − a)·(1 − w) otherwise
  return frac < 0.5 ? f(lo + f(diff * f(frac))) : f(hi - f(diff * f(1 - frac)));
}

/**
 * attention: [B, heads, 1+P, 1+P] pre-softmax logits (row-major), index / scale: the window tables of
 * local-positives.ts (flat neighbour index i·P + j and 1/n_i per entry, [P, 9]) → weights [B, P, 9].
 */
export function localWeightsHost(
  attention: ArrayLike<number>,
  batch: number,
  heads: number,
  p: number,
  sigma: number,
  index: Int32Array,
  scale: Float32Array,
): Float32Array {
  const out = new Float32Array(batch * p * 9);
  const side = p + 1;
  const sum = new Float64Array(p);
  const row = new Float32Array(p);
  const sorted = new Float32Array(p);
  const s = new Float32Array(p);
  const sigma32 = f(sigma);
  const invHeads = heads;
  for (let b = 0; b < batch; b += 1) {
    for (let i = 0; i < p; i += 1) {
      // mean over heads of the patch-to-patch logits (CLS row and column dropped)
      sum.fill(0);
      for (let hd = 0; hd < heads; hd += 1) {
        const base = ((b * heads + hd) * side + 1 + i) * side + 1;
        for (let j = 0; j < p; j += 1) sum[j]! += attention[base + j]!;
      }
      for (let j = 0; j < p; j += 1) row[j] = f(sum[j]! / invHeads);
      sorted.set(row);
      sorted.sort();
      const hi = quantile(sorted, 0.9);
      const lo = quantile(sorted, 0.1);
      // clamp, σ·softmax over all P patches, keep where ≥ the row mean
      let max = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < p; j += 1) {
        const v = Math.max(Math.min(row[j]!, hi), lo);
        row[j] = v;
        if (v > max) max = v;
      }
      let total = 0;
      for (let j = 0; j < p; j += 1) {
        const e = Math.exp(row[j]! - max);
        s[j] = e;
        total += e;
      }
      let mean = 0;
      for (let j = 0; j < p; j += 1) {
        s[j] = f(f(s[j]! / total) * sigma32);
        mean += s[j]!;
      }
      const mean32 = f(mean / p);
      for (let k = 0; k < 9; k += 1) {
        const j = index[i * 9 + k]! - i * p;
        const v = s[j]!;
        out[(b * p + i) * 9 + k] = v >= mean32 ? f(v * scale[i * 9 + k]!) : 0;
      }
    }
  }
  return out;
}
