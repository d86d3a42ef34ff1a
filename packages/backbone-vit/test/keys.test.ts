import type { HostTensor, StateDict } from '@hpseg/core';
import { describe, expect, it } from 'vitest';
import { detectBackboneKeyFormat, normalizeBackboneKeys } from '../src/index.js';

const t = (n = 1): HostTensor => ({
  dtype: 'float32',
  storedDtype: 'float32',
  shape: [n],
  data: new Float32Array(n),
});
const dict = (keys: string[]): StateDict => new Map(keys.map((k) => [k, t()]));
const OFFICIAL = [
  'cls_token',
  'pos_embed',
  'patch_embed.proj.weight',
  'blocks.0.attn.qkv.weight',
  'norm.weight',
];

describe('normalizeBackboneKeys', () => {
  it('dino: official names pass through unchanged and the tensors are shared, not copied', () => {
    const sd = dict(OFFICIAL);
    const out = normalizeBackboneKeys(sd, 'dino');
    expect([...out.keys()]).toEqual(OFFICIAL);
    expect(out.get('cls_token')).toBe(sd.get('cls_token'));
  });

  it('dino-teacher: strips module./backbone. and drops the DINOHead', () => {
    const sd = dict([
      ...OFFICIAL.map((k) => `module.backbone.${k}`),
      'module.head.mlp.0.weight',
      'module.head.last_layer.weight_g',
    ]);
    expect([...normalizeBackboneKeys(sd, 'dino-teacher').keys()]).toEqual(OFFICIAL);
    const teacher = dict([...OFFICIAL.map((k) => `backbone.${k}`), 'head.mlp.0.weight']);
    expect([...normalizeBackboneKeys(teacher, 'dino-teacher').keys()]).toEqual(OFFICIAL);
  });

  it('dino-teacher: a flattened full training checkpoint (teacher. root) is read', () => {
    const sd = dict(OFFICIAL.map((k) => `teacher.backbone.${k}`));
    expect([...normalizeBackboneKeys(sd, 'dino-teacher').keys()]).toEqual(OFFICIAL);
  });

  it('timm: drops the classifier head, keeps fc_norm/norm_pre so strict loading reports them', () => {
    const sd = dict([...OFFICIAL, 'head.weight', 'head.bias', 'fc_norm.weight', 'norm_pre.weight']);
    expect([...normalizeBackboneKeys(sd, 'timm').keys()]).toEqual([
      ...OFFICIAL,
      'fc_norm.weight',
      'norm_pre.weight',
    ]);
  });

  it('hp: strips model. and ignores the segmentation and EMA heads', () => {
    const sd = dict([
      ...OFFICIAL.map((k) => `model.${k}`),
      'cluster1.0.weight',
      'cluster2.2.bias',
      'ema_model1.0.weight',
      'ema_model2.0.bias',
    ]);
    expect([...normalizeBackboneKeys(sd, 'hp').keys()]).toEqual(OFFICIAL);
    const nested = dict(OFFICIAL.map((k) => `net_model_state_dict.model.${k}`));
    expect([...normalizeBackboneKeys(nested, 'hp').keys()]).toEqual(OFFICIAL);
  });

  it('auto detects each scheme', () => {
    expect(detectBackboneKeyFormat(dict(OFFICIAL))).toBe('dino');
    expect(detectBackboneKeyFormat(dict(OFFICIAL.map((k) => `module.backbone.${k}`)))).toBe('dino-teacher');
    expect(detectBackboneKeyFormat(dict([...OFFICIAL, 'head.weight']))).toBe('timm');
    expect(detectBackboneKeyFormat(dict([...OFFICIAL.map((k) => `model.${k}`), 'cluster1.0.weight']))).toBe(
      'hp',
    );
    expect([...normalizeBackboneKeys(dict(OFFICIAL.map((k) => `model.${k}`)), 'auto').keys()]).toEqual(
      OFFICIAL,
    );
  });

  it('two keys renamed onto one name → E_CHECKPOINT naming it', () => {
    const sd = dict(['backbone.cls_token', 'module.cls_token']);
    expect(() => normalizeBackboneKeys(sd, 'dino-teacher')).toThrow(
      expect.objectContaining({
        code: 'E_CHECKPOINT',
        message: expect.stringContaining("'cls_token' twice"),
      }),
    );
  });

  it('unknown format → E_ARG', () => {
    expect(() => normalizeBackboneKeys(dict(OFFICIAL), 'keras' as 'dino')).toThrow(
      expect.objectContaining({ code: 'E_ARG', message: expect.stringContaining('got "keras"') }),
    );
  });
});
