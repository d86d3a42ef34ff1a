import type { HpError } from '@hpseg/core';
import { describe, expect, it } from 'vitest';
import type { VitConfig } from '../src/index.js';
import {
  checkBackboneStateDict,
  inferVitConfig,
  loadBackbone,
  randomVitWeights,
  vitKeyShapes,
} from '../src/index.js';

const TINY: VitConfig = { embedDim: 16, depth: 2, numHeads: 2, patchSize: 4, trainedGrid: 3, mlpRatio: 4 };

function caught(fn: () => unknown): HpError {
  try {
    fn();
  } catch (error) {
    return error as HpError;
  }
  throw new Error('expected a throw');
}

describe('inferVitConfig', () => {
  it('reads width, depth, patch, trained grid and MLP ratio from shapes; heads default to C/64', () => {
    expect(inferVitConfig(randomVitWeights(TINY, 1), { numHeads: 2 })).toEqual(TINY);
    const vits8 = { embedDim: 384, depth: 1, numHeads: 6, patchSize: 8, trainedGrid: 28, mlpRatio: 4 };
    expect(inferVitConfig(randomVitWeights(vits8, 1))).toEqual(vits8);
  });

  it('a width that is not a multiple of 64 needs numHeads', () => {
    expect(caught(() => inferVitConfig(randomVitWeights(TINY, 1)))).toMatchObject({
      code: 'E_ARG',
      message: expect.stringContaining('Pass { numHeads }'),
    });
  });

  it('a state dict without the patch embedding → E_CHECKPOINT naming the key', () => {
    const sd = randomVitWeights(TINY, 1);
    sd.delete('patch_embed.proj.weight');
    expect(caught(() => inferVitConfig(sd, { numHeads: 2 }))).toMatchObject({
      code: 'E_CHECKPOINT',
      message: expect.stringContaining("'patch_embed.proj.weight'"),
    });
  });
});

describe('checkBackboneStateDict (strict loading)', () => {
  it('accepts exactly the official key set', () => {
    const sd = randomVitWeights(TINY, 1);
    expect(sd.size).toBe(4 + 12 * TINY.depth + 2);
    expect(() => checkBackboneStateDict(sd, TINY)).not.toThrow();
  });

  it('lists every missing, unexpected and mis-shaped tensor in ONE error', () => {
    const sd = randomVitWeights(TINY, 1);
    sd.delete('blocks.1.mlp.fc2.bias');
    sd.delete('norm.bias');
    sd.set('head.weight', sd.get('norm.weight')!);
    sd.set('blocks.0.attn.proj.weight', sd.get('blocks.0.mlp.fc1.weight')!); // [64, 16] instead of [16, 16]
    const error = caught(() => checkBackboneStateDict(sd, TINY));
    expect(error.name).toBe('HpError');
    expect(error.code).toBe('E_CHECKPOINT');
    expect(error.message).toContain('missing 2: blocks.1.mlp.fc2.bias, norm.bias');
    expect(error.message).toContain('unexpected 1: head.weight');
    expect(error.message).toContain(
      'mis-shaped 1: blocks.0.attn.proj.weight (expected [16, 16], got [64, 16])',
    );
    expect(error.details).toMatchObject({
      missing: ['blocks.1.mlp.fc2.bias', 'norm.bias'],
      unexpected: ['head.weight'],
    });
  });

  it('loadBackbone is strict too (timm fc_norm model is refused, not silently changed)', async () => {
    const sd = randomVitWeights(TINY, 1);
    sd.set('fc_norm.weight', sd.get('norm.weight')!);
    await expect(loadBackbone(sd, { engine: 'tfjs', numHeads: 2, format: 'timm' })).rejects.toMatchObject({
      code: 'E_CHECKPOINT',
      message: expect.stringContaining('unexpected 1: fc_norm.weight'),
    });
  });

  it('vitKeyShapes gives PyTorch layouts', () => {
    const shapes = vitKeyShapes(TINY);
    expect(shapes.get('pos_embed')).toEqual([1, 10, 16]);
    expect(shapes.get('patch_embed.proj.weight')).toEqual([16, 3, 4, 4]);
    expect(shapes.get('blocks.1.attn.qkv.weight')).toEqual([48, 16]);
    expect(shapes.get('blocks.1.mlp.fc2.weight')).toEqual([16, 64]);
  });
});
