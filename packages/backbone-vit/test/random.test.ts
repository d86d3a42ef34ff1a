import { describe, expect, it } from 'vitest';
import type { VitConfig } from '../src/index.js';
import { checkBackboneStateDict, randomVitWeights } from '../src/index.js';

const TINY: VitConfig = { embedDim: 32, depth: 2, numHeads: 4, patchSize: 8, trainedGrid: 4, mlpRatio: 4 };

describe('randomVitWeights', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = randomVitWeights(TINY, 7).get('blocks.1.mlp.fc1.weight')!.data as Float32Array;
    const b = randomVitWeights(TINY, 7).get('blocks.1.mlp.fc1.weight')!.data as Float32Array;
    const c = randomVitWeights(TINY, 8).get('blocks.1.mlp.fc1.weight')!.data as Float32Array;
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
  });

  it('has the official key set, DINO-like statistics, unit LayerNorms and zero biases', () => {
    const sd = randomVitWeights(TINY, 1);
    expect(() => checkBackboneStateDict(sd, TINY)).not.toThrow();
    const w = sd.get('blocks.0.attn.qkv.weight')!.data as Float32Array;
    let sum = 0;
    let sq = 0;
    let maxAbs = 0;
    for (const v of w) {
      sum += v;
      sq += v * v;
      maxAbs = Math.max(maxAbs, Math.abs(v));
    }
    const std = Math.sqrt(sq / w.length - (sum / w.length) ** 2);
    expect(std).toBeGreaterThan(0.017);
    expect(std).toBeLessThan(0.02);
    expect(maxAbs).toBeLessThanOrEqual(0.04 + 1e-7); // truncated at 2 std
    expect(Array.from(sd.get('norm.weight')!.data as Float32Array).every((v) => v === 1)).toBe(true);
    expect(Array.from(sd.get('blocks.1.mlp.fc2.bias')!.data as Float32Array).every((v) => v === 0)).toBe(
      true,
    );
  });

  it('rejects a bad config or seed', () => {
    expect(() => randomVitWeights({ ...TINY, numHeads: 5 })).toThrow(
      expect.objectContaining({ code: 'E_ARG' }),
    );
    expect(() => randomVitWeights(TINY, -1)).toThrow(expect.objectContaining({ code: 'E_ARG' }));
  });
});
