/**
 * Permutohedral lattice (Adams, Baek & Davis 2010, "Fast High-Dimensional Filtering Using the
 * Permutohedral Lattice"): approximate Gaussian filtering `out_i = c · Σ_j exp(−½‖f_i − f_j‖²) · in_j`
 * in O(N·d·K) per call. Each point is splatted onto the d+1 vertices of the enclosing simplex of the
 * scaled lattice with barycentric weights, the lattice values are blurred with [1, 2, 1]/2 along each
 * of the d+1 lattice directions, and the result is sliced back with the same weights. The self term
 * (j = i) is included. All state lives in typed arrays; no per-point objects.
 */

/**
 * Open-addressing hash table of integer lattice keys (d coordinates each; the last one is
 * implied). Keys are stored twice: at their slot, so a probe reads one contiguous place, and by
 * entry index, for iterating the vertices. The table starts small and doubles, so it stays as
 * compact as the lattice.
 */
class LatticeHash {
  keys: Int32Array; // [capacity, d] by entry index
  private slotKeys: Int32Array; // [slots, d]
  private slotEntry: Int32Array; // slot → entry index + 1, 0 = empty
  private mask: number;
  size = 0;

  constructor(private readonly d: number) {
    this.keys = new Int32Array(1024 * d);
    this.slotKeys = new Int32Array(2048 * d);
    this.slotEntry = new Int32Array(2048);
    this.mask = 2047;
  }

  private slotOf(key: Int32Array, at: number): number {
    let h = 0x9e3779b9;
    for (let i = 0; i < this.d; i++) h = Math.imul(h ^ key[at + i]!, 0x01000193) + 0x7f4a7c15;
    // murmur3 finaliser: lattice keys are highly regular, the table needs well-mixed low bits.
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return (h ^ (h >>> 16)) & this.mask;
  }

  private grow(): void {
    const d = this.d;
    const keys = new Int32Array(this.keys.length * 2);
    keys.set(this.keys);
    this.keys = keys;
    const slots = this.slotEntry.length * 2;
    this.slotEntry = new Int32Array(slots);
    this.slotKeys = new Int32Array(slots * d);
    this.mask = slots - 1;
    for (let index = 0; index < this.size; index++) {
      let slot = this.slotOf(keys, index * d);
      while (this.slotEntry[slot] !== 0) slot = (slot + 1) & this.mask;
      this.slotEntry[slot] = index + 1;
      for (let i = 0; i < d; i++) this.slotKeys[slot * d + i] = keys[index * d + i]!;
    }
  }

  /** Index of `key` (its first d entries), inserting it when `insert`; −1 if absent. */
  find(key: Int32Array, insert: boolean): number {
    const d = this.d;
    let slot = this.slotOf(key, 0);
    const slotEntry = this.slotEntry;
    const slotKeys = this.slotKeys;
    for (;;) {
      const entry = slotEntry[slot]!;
      const base = slot * d;
      if (entry === 0) {
        if (!insert) return -1;
        if ((this.size + 1) * d > this.keys.length || (this.size + 1) * 2 > slotEntry.length) {
          this.grow();
          return this.find(key, true);
        }
        const index = this.size++;
        for (let i = 0; i < d; i++) {
          slotKeys[base + i] = key[i]!;
          this.keys[index * d + i] = key[i]!;
        }
        slotEntry[slot] = index + 1;
        return index;
      }
      let same = true;
      for (let i = 0; i < d; i++) {
        if (slotKeys[base + i] !== key[i]) {
          same = false;
          break;
        }
      }
      if (same) return entry - 1;
      slot = (slot + 1) & this.mask;
    }
  }
}

export class PermutohedralLattice {
  /** Number of points N. */
  readonly numPoints: number;
  /** Feature dimension d. */
  readonly dim: number;
  /** Number of lattice vertices M. */
  readonly numVertices: number;
  /** [N, d+1]: lattice vertex row (index + 1) of each of the point's simplex vertices. */
  readonly offsets: Int32Array;
  /** [N, d+1]: barycentric weights of those vertices (sum 1 per point). */
  readonly weights: Float32Array;
  /** [d+1, M]: vertex rows (index + 1, 0 = none) of the two blur neighbours along each direction. */
  readonly neighbours1: Int32Array;
  readonly neighbours2: Int32Array;
  /** Constant gain correction 1 / (1 + 2^−d) applied when slicing. */
  readonly alpha: number;

  /** `features` is [N, d] point-major (each point's d feature values are contiguous). */
  constructor(features: Float32Array | Float64Array, numPoints: number, dim: number) {
    const n = numPoints;
    const d = dim;
    const d1 = d + 1;
    this.numPoints = n;
    this.dim = d;
    this.alpha = 1 / (1 + 2 ** -d);
    const hash = new LatticeHash(d);
    this.offsets = new Int32Array(n * d1);
    this.weights = new Float32Array(n * d1);

    // Elevation E·f onto the hyperplane Σx = 0 of R^{d+1}, scaled so that the blur below has
    // standard deviation 1 in feature units (Adams et al. 2010, §3.1 and p. 6).
    const invStd = Math.sqrt(2 / 3) * d1;
    const scale = new Float64Array(d);
    for (let i = 0; i < d; i++) scale[i] = invStd / Math.sqrt((i + 1) * (i + 2));

    const elevated = new Float64Array(d1);
    const rem0 = new Float64Array(d1);
    const rank = new Int32Array(d1);
    const bary = new Float64Array(d + 2);
    const key = new Int32Array(d1);
    const prevRem0 = new Float64Array(d1);
    const prevRank = new Int32Array(d1);

    for (let p = 0; p < n; p++) {
      const f = p * d;
      let sum = 0;
      for (let j = d; j > 0; j--) {
        const cf = features[f + j - 1]! * scale[j - 1]!;
        elevated[j] = sum - j * cf;
        sum += cf;
      }
      elevated[0] = sum;

      // Nearest remainder-0 lattice point: round each coordinate to a multiple of d+1.
      let coordSum = 0;
      for (let i = 0; i <= d; i++) {
        const v = elevated[i]! / d1;
        const up = Math.ceil(v) * d1;
        const down = Math.floor(v) * d1;
        const r = up - elevated[i]! < elevated[i]! - down ? up : down;
        rem0[i] = r;
        coordSum += r / d1;
      }

      // Rank of each coordinate's residual (the simplex containing the point), by sorting.
      rank.fill(0);
      for (let i = 0; i < d; i++) {
        const di = elevated[i]! - rem0[i]!;
        for (let j = i + 1; j <= d; j++) {
          if (di < elevated[j]! - rem0[j]!) rank[i]!++;
          else rank[j]!++;
        }
      }
      // The rounded point may be off the hyperplane (coordSum ≠ 0): shift ranks and wrap.
      for (let i = 0; i <= d; i++) {
        rank[i]! += coordSum;
        if (rank[i]! < 0) {
          rank[i]! += d1;
          rem0[i]! += d1;
        } else if (rank[i]! > d) {
          rank[i]! -= d1;
          rem0[i]! -= d1;
        }
      }

      // Barycentric coordinates (Adams et al. 2010, p. 10).
      bary.fill(0);
      for (let i = 0; i <= d; i++) {
        const v = (elevated[i]! - rem0[i]!) / d1;
        bary[d - rank[i]!]! += v;
        bary[d - rank[i]! + 1]! -= v;
      }
      bary[0]! += 1 + bary[d + 1]!;

      // Same simplex as the previous point (common in smooth image regions): same vertices.
      let same = p > 0;
      for (let i = 0; same && i <= d; i++) same = rem0[i] === prevRem0[i] && rank[i] === prevRank[i];
      for (let r = 0; r <= d; r++) this.weights[p * d1 + r] = bary[r]!;
      if (same) {
        for (let r = 0; r <= d; r++) this.offsets[p * d1 + r] = this.offsets[(p - 1) * d1 + r]!;
        continue;
      }
      prevRem0.set(rem0);
      prevRank.set(rank);
      // Vertex `r` of the simplex: rem0 plus the canonical simplex offset for that rank.
      for (let r = 0; r <= d; r++) {
        for (let i = 0; i < d; i++) {
          const ri = rank[i]!;
          key[i] = rem0[i]! + (ri <= d - r ? r : r - d1);
        }
        this.offsets[p * d1 + r] = hash.find(key, true) + 1;
      }
    }

    const m = hash.size;
    this.numVertices = m;
    this.neighbours1 = new Int32Array(d1 * m);
    this.neighbours2 = new Int32Array(d1 * m);
    const n1 = new Int32Array(d1);
    const keys = hash.keys;
    for (let j = 0; j <= d; j++) {
      for (let v = 0; v < m; v++) {
        const base = v * d;
        // Step along direction j: −1 on every coordinate, +d on coordinate j. The reverse step
        // from that neighbour u leads back to v, so one lookup fills both tables.
        for (let k = 0; k < d; k++) n1[k] = keys[base + k]! - 1;
        if (j < d) n1[j] = keys[base + j]! + d;
        const u = hash.find(n1, false);
        if (u >= 0) {
          this.neighbours1[j * m + v] = u + 1;
          this.neighbours2[j * m + u] = v + 1;
        }
      }
    }
  }

  /**
   * `out = filter(input)` for `channels` values per point ([N, channels], point-major). `out` may
   * be `input`. The result is scaled by 1 / (1 + 2^−d) (the lattice's constant gain correction), so
   * filtering ones gives roughly Σ_j exp(−½‖f_i − f_j‖²) up to the approximation.
   */
  filter(input: Float32Array, out: Float32Array, channels: number): void {
    const n = this.numPoints;
    const d1 = this.dim + 1;
    const m = this.numVertices;
    const c = channels;
    const offsets = this.offsets;
    const weights = this.weights;
    let values = new Float32Array((m + 1) * c);
    let next = new Float32Array((m + 1) * c);

    // Splat.
    for (let p = 0; p < n; p++) {
      const src = p * c;
      for (let r = 0; r < d1; r++) {
        const o = offsets[p * d1 + r]! * c;
        const w = weights[p * d1 + r]!;
        for (let k = 0; k < c; k++) values[o + k]! += w * input[src + k]!;
      }
    }

    // Blur with [1, 2, 1]/2 along each lattice direction (row 0 is the zero "missing" vertex).
    for (let j = 0; j < d1; j++) {
      const nb1 = this.neighbours1;
      const nb2 = this.neighbours2;
      for (let v = 0; v < m; v++) {
        const self = (v + 1) * c;
        const a = nb1[j * m + v]! * c;
        const b = nb2[j * m + v]! * c;
        for (let k = 0; k < c; k++)
          next[self + k] = values[self + k]! + 0.5 * (values[a + k]! + values[b + k]!);
      }
      const swap = values;
      values = next;
      next = swap;
    }

    // Slice.
    const alpha = this.alpha;
    for (let p = 0; p < n; p++) {
      const dst = p * c;
      for (let k = 0; k < c; k++) out[dst + k] = 0;
      for (let r = 0; r < d1; r++) {
        const o = offsets[p * d1 + r]! * c;
        const w = weights[p * d1 + r]! * alpha;
        for (let k = 0; k < c; k++) out[dst + k]! += w * values[o + k]!;
      }
    }
  }
}
