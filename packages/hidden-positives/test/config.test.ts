import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  deriveHpValues,
  fromOfficialJson,
  HP_PRESETS,
  HpConfigSchema,
  OFFICIAL_KEYS,
  resolveHpConfig,
  toOfficialJson,
} from '../src/index.js';

const official = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`./fixtures/official/${name}.json`, import.meta.url), 'utf8'));

const CASES = [
  ['cocostuff27', 'cocostuff'],
  ['cityscapes', 'cityscapes'],
  ['potsdam', 'potsdam'],
] as const;

function catchError(fn: () => unknown): { code?: string; message: string; details?: { problems: string[] } } {
  try {
    fn();
  } catch (error) {
    return error as { code?: string; message: string };
  }
  throw new Error('expected an error');
}

describe('presets equal the official json/server files (official-behaviour §4.6)', () => {
  for (const [preset, file] of CASES) {
    it(`${preset}: toOfficialJson(preset) deep-equals ${file}.json, key order included`, () => {
      const out = toOfficialJson(HP_PRESETS[preset]);
      const want = official(file);
      expect(out).toEqual(want);
      expect(JSON.stringify(out)).toBe(JSON.stringify(want));
    });
    it(`${preset}: fromOfficialJson(${file}.json) equals the preset`, () => {
      expect(fromOfficialJson(official(file))).toEqual(HP_PRESETS[preset]);
    });
  }

  it('presets differ where the official files differ', () => {
    expect(HP_PRESETS.cocostuff27.temperature).toBe(0.8);
    expect(HP_PRESETS.cityscapes.temperature).toBe(0.6);
    expect(HP_PRESETS.potsdam.temperature).toBe(0.4);
    expect(HP_PRESETS.potsdam.negativeKeepRatio).toBe(1);
    expect(HP_PRESETS.potsdam.model.dim).toBe(256);
    expect(HP_PRESETS.cocostuff27.model.momentum).toBe(0.99);
    expect(HP_PRESETS.cityscapes.model.warmup).toBe(50);
  });

  it('every official key has a camelCase field with a description naming it', () => {
    const descs = JSON.stringify(z.toJSONSchema(HpConfigSchema, { io: 'input' }));
    for (const [o] of OFFICIAL_KEYS) expect(descs, o).toContain(`← ${o}`);
  });

  it('presets are frozen', () => {
    expect(Object.isFrozen(HP_PRESETS.cocostuff27.model)).toBe(true);
  });
});

describe('derived values', () => {
  it('grid = res / patch, P, N, C, τ/0.07, pool batches', () => {
    expect(deriveHpValues(HP_PRESETS.cocostuff27)).toEqual({
      gridSize: 28,
      patchesPerImage: 784,
      tokensPerBatch: 50176,
      backboneWidth: 384,
      lossScale: 0.8 / 0.07,
      poolBatches: 32,
    });
    const p16 = resolveHpConfig({ model: { pretrained: { patchSize: 16 } } });
    expect(deriveHpValues(p16).gridSize).toBe(14);
    expect(deriveHpValues(HP_PRESETS.potsdam).backboneWidth).toBe(768);
    expect(deriveHpValues(HP_PRESETS.potsdam).poolBatches).toBe(16);
  });
});

describe('resolveHpConfig', () => {
  it('applies overrides on top of a preset', () => {
    const c = resolveHpConfig({ temperature: 0.5, model: { poolSize: 512 } }, 'cityscapes');
    expect(c.temperature).toBe(0.5);
    expect(c.model.poolSize).toBe(512);
    expect(c.model.momentum).toBe(0.999);
    expect(c.dataset.dataType).toBe('cityscapes');
  });

  it('collects every problem with dotted paths into one E_CONFIG', () => {
    const e = catchError(() =>
      resolveHpConfig({
        temperature: -1,
        negativeKeepRatio: 2,
        model: { poolSize: 100, pretrained: { modelType: 'vit_huge' as 'vit_base' } },
        dataset: { bogus: 1 } as never,
      }),
    );
    expect(e.code).toBe('E_CONFIG');
    expect(e.message).toContain('resolveHpConfig: invalid configuration');
    expect(e.message).toContain('temperature:');
    expect(e.message).toContain('negativeKeepRatio:');
    expect(e.message).toContain('model.pretrained.modelType:');
    expect(e.message).toContain('dataset.bogus: unknown key');
    expect(e.details?.problems.length).toBeGreaterThanOrEqual(4);
  });

  it('rejects a pool size that is not a multiple of the batch size and a res not divisible by the patch', () => {
    const e = catchError(() => resolveHpConfig({ model: { poolSize: 2000 }, dataset: { res: 220 } }));
    expect(e.code).toBe('E_CONFIG');
    expect(e.message).toContain('model.poolSize: must be a multiple of dataloader.batchSize (64)');
    expect(e.message).toContain('dataset.res: must be a multiple of model.pretrained.patchSize (8)');
  });

  it('rejects an unknown preset with E_ARG', () => {
    const e = catchError(() => resolveHpConfig({}, 'ade20k' as 'potsdam'));
    expect(e.code).toBe('E_ARG');
    expect(e.message).toContain('unknown preset');
  });
});

describe('fromOfficialJson', () => {
  it('fills keys missing from older official files from the preset of data_type', () => {
    const old = official('cityscapes');
    delete old.renew_interval;
    expect(fromOfficialJson(old).renewInterval).toBe(20);
  });

  it('reports problems with official key names, including a spatial_size that disagrees with res/patch', () => {
    const bad = official('cocostuff');
    (bad.model as Record<string, unknown>).spatial_size = 14;
    (bad.model as Record<string, unknown>).ema_m = 2;
    bad.tau = 'hot';
    (bad.dataset as Record<string, unknown>).extra = true;
    const e = catchError(() => fromOfficialJson(bad));
    expect(e.code).toBe('E_CONFIG');
    expect(e.message).toContain('model.ema_m:');
    expect(e.message).toContain('tau:');
    expect(e.message).toContain('dataset.extra: unknown key');
    const good = official('cocostuff');
    (good.model as Record<string, unknown>).spatial_size = 14;
    const e2 = catchError(() => fromOfficialJson(good));
    expect(e2.message).toContain(
      'model.spatial_size: must equal dataset.res / model.pretrained.dino_patch_size = 28, got 14',
    );
  });

  it('accepts crop_type null and "none" (other revisions of the official files)', () => {
    const a = official('cocostuff');
    (a.dataset as Record<string, unknown>).crop_type = null;
    expect(fromOfficialJson(a).dataset.cropType).toBeNull();
    expect(toOfficialJson(fromOfficialJson(a))).toEqual(a);
    const b = official('potsdam');
    (b.dataset as Record<string, unknown>).crop_type = 'none';
    expect(fromOfficialJson(b).dataset.cropType).toBe('none');
  });

  it('rejects a non-object with E_ARG', () => {
    expect(catchError(() => fromOfficialJson([1, 2])).code).toBe('E_ARG');
  });
});
