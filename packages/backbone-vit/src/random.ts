import type { HostTensor, StateDict } from '@hpseg/core';
import { assertInt, mulberry32 } from '@hpseg/core';
import type { VitConfig } from './config.js';
import { assertVitConfig, vitKeyShapes } from './config.js';

/**
 * Deterministic random weights for a ViT in the official DINO layout (PyTorch shapes): normal with std
 * 0.02 truncated at ±2 std for linear, conv, CLS and position tensors (DINO's `trunc_normal_`), biases 0,
 * LayerNorm weight 1 and bias 0. Same seed → same weights.
 */
export function randomVitWeights(config: VitConfig, seed = 0): StateDict {
  assertVitConfig('randomVitWeights', config);
  assertInt('randomVitWeights', 'seed', seed, 0, 2 ** 32 - 1);
  const rand = mulberry32(seed);
  const normal = (): number => {
    for (;;) {
      const u = 1 - rand();
      const v = rand();
      const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
      if (Math.abs(z) <= 2) return z;
    }
  };
  const out: StateDict = new Map();
  for (const [key, shape] of vitKeyShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const isNorm = /(^|\.)norm\d?\.(weight|bias)$/.test(key);
    if (isNorm) {
      if (key.endsWith('weight')) data.fill(1);
    } else if (!key.endsWith('.bias')) {
      for (let i = 0; i < n; i++) data[i] = 0.02 * normal();
    }
    const t: HostTensor = { dtype: 'float32', storedDtype: 'float32', shape, data };
    out.set(key, t);
  }
  return out;
}
