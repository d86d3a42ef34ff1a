import { describeValue, HpError } from '@hpseg/core';
import type { z } from 'zod';
import { OFFICIAL_DERIVED_KEY, OFFICIAL_KEYS } from './official-keys.js';
import { HP_PRESET_NAMES, HP_PRESETS, type HpPresetName } from './presets.js';
import { type HpConfig, type HpConfigOverrides, HpConfigSchema } from './schema.js';

type Json = Record<string, unknown>;

function isPlainObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge: objects merge key by key, everything else (arrays included) replaces. */
function deepMerge(base: unknown, over: unknown): unknown {
  if (over === undefined) return structuredClone(base);
  if (!isPlainObject(base) || !isPlainObject(over)) return structuredClone(over);
  const out: Json = structuredClone(base);
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

function getPath(obj: unknown, path: string): { found: boolean; value: unknown } {
  let cur: unknown = obj;
  for (const key of path.split('.')) {
    if (!isPlainObject(cur) || !Object.hasOwn(cur, key)) return { found: false, value: undefined };
    cur = cur[key];
  }
  return { found: true, value: cur };
}

function setPath(obj: Json, path: string, value: unknown): void {
  const keys = path.split('.');
  let cur = obj;
  for (const key of keys.slice(0, -1)) {
    if (!isPlainObject(cur[key])) cur[key] = {};
    cur = cur[key] as Json;
  }
  cur[keys[keys.length - 1]!] = value;
}

function formatIssues(issues: readonly z.core.$ZodIssue[], rename: (path: string) => string): string[] {
  return issues.map((issue) => {
    const base = issue.path.map(String).join('.');
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    if (keys.length > 0) {
      return keys.map((k) => `${rename(base ? `${base}.${k}` : k)}: unknown key`).join('; ');
    }
    return `${rename(base) || '(root)'}: ${issue.message}`;
  });
}

function configError(fn: string, problems: readonly string[], hint?: string): HpError {
  return new HpError(
    'E_CONFIG',
    `${fn}: invalid configuration: expected a valid HP configuration, got ${problems.length} problem(s): ${problems.join('; ')}`,
    { details: { problems: [...problems] }, ...(hint === undefined ? {} : { hint }) },
  );
}

function pickPreset(fn: string, preset: HpPresetName | HpConfig): HpConfig {
  if (typeof preset === 'string') {
    const found = HP_PRESETS[preset as HpPresetName];
    if (found === undefined) {
      throw new HpError(
        'E_ARG',
        `${fn}: unknown preset: expected one of ${HP_PRESET_NAMES.join(', ')}, got ${describeValue(preset)}`,
      );
    }
    return found as HpConfig;
  }
  return preset;
}

/**
 * Applies `overrides` (camelCase, any subset) on top of a preset and validates once. All problems
 * are collected into one `HpError('E_CONFIG')` whose message lists them with dotted paths
 * (`model.poolSize: ...; temperature: ...`); `details.problems` holds the list.
 */
export function resolveHpConfig(
  overrides: HpConfigOverrides | Record<string, unknown> = {},
  preset: HpPresetName | HpConfig = 'cocostuff27',
): HpConfig {
  const fn = 'resolveHpConfig';
  if (!isPlainObject(overrides)) {
    throw new HpError('E_ARG', `${fn}: overrides must be an object, got ${describeValue(overrides)}`);
  }
  const merged = deepMerge(pickPreset(fn, preset), overrides);
  const parsed = HpConfigSchema.safeParse(merged);
  if (!parsed.success)
    throw configError(
      fn,
      formatIssues(parsed.error.issues, (p) => p),
    );
  return parsed.data;
}

/** camelCase path (leaf or group) → official path; both layouts have the same depth for every key. */
const camelToOfficial = new Map<string, string>();
for (const [o, c] of OFFICIAL_KEYS) {
  const os = o.split('.');
  const cs = c.split('.');
  for (let i = 1; i <= cs.length; i += 1)
    camelToOfficial.set(cs.slice(0, i).join('.'), os.slice(0, i).join('.'));
}

function renameToOfficial(path: string): string {
  const parts = path.split('.');
  for (let i = parts.length; i > 0; i -= 1) {
    const head = camelToOfficial.get(parts.slice(0, i).join('.'));
    if (head !== undefined) return [head, ...parts.slice(i)].join('.');
  }
  return path;
}

function officialLeafPaths(obj: unknown, prefix = ''): string[] {
  if (!isPlainObject(obj)) return [prefix];
  if (prefix === 'scheduler') return [prefix];
  const out: string[] = [];
  for (const [k, v] of Object.entries(obj)) out.push(...officialLeafPaths(v, prefix ? `${prefix}.${k}` : k));
  return out;
}

/**
 * Reads a configuration in the official HP JSON layout (the parsed content of e.g.
 * `json/server/cocostuff.json`). Keys missing from the file take the values of the preset of its
 * `dataset.data_type` (COCO-Stuff for unknown types), so older official files without
 * `renew_interval` still load. Unknown keys, wrong values and a `model.spatial_size` that disagrees
 * with `dataset.res / dino_patch_size` are all reported together, with official dotted paths, in one
 * `HpError('E_CONFIG')`.
 */
export function fromOfficialJson(json: unknown): HpConfig {
  const fn = 'fromOfficialJson';
  if (!isPlainObject(json)) {
    throw new HpError(
      'E_ARG',
      `${fn}: expected the parsed object of an official HP json file, got ${describeValue(json)}`,
    );
  }
  const problems: string[] = [];
  const known = new Set(OFFICIAL_KEYS.map(([o]) => o));
  known.add(OFFICIAL_DERIVED_KEY);
  for (const path of officialLeafPaths(json)) {
    if (!known.has(path)) problems.push(`${path}: unknown key`);
  }
  const dataType = getPath(json, 'dataset.data_type').value;
  const presetName: HpPresetName =
    dataType === 'cityscapes'
      ? 'cityscapes'
      : dataType === 'potsdam' || dataType === 'potsdamraw'
        ? 'potsdam'
        : 'cocostuff27';
  const camel: Json = {};
  for (const [official, camelPath] of OFFICIAL_KEYS) {
    const { found, value } = getPath(json, official);
    if (found) setPath(camel, camelPath, value);
  }
  const merged = deepMerge(HP_PRESETS[presetName], camel);
  const parsed = HpConfigSchema.safeParse(merged);
  if (!parsed.success) problems.push(...formatIssues(parsed.error.issues, renameToOfficial));
  const spatial = getPath(json, OFFICIAL_DERIVED_KEY);
  if (parsed.success && spatial.found) {
    const grid = parsed.data.dataset.res / parsed.data.model.pretrained.patchSize;
    if (spatial.value !== grid) {
      problems.push(
        `${OFFICIAL_DERIVED_KEY}: must equal dataset.res / model.pretrained.dino_patch_size = ${grid}, got ${describeValue(spatial.value)}`,
      );
    }
  }
  if (problems.length > 0 || !parsed.success) throw configError(fn, problems);
  return parsed.data;
}

/**
 * Writes a configuration in the official HP JSON layout (keys in the order of the official files,
 * `model.spatial_size` filled with the derived grid side), so the result can be fed to the
 * official `run.py` or compared with its files.
 */
export function toOfficialJson(config: HpConfig): Record<string, unknown> {
  const out: Json = {};
  for (const [official, camelPath] of OFFICIAL_KEYS) {
    const { value } = getPath(config, camelPath);
    setPath(out, official, structuredClone(value));
    if (official === 'model.warmup') {
      setPath(out, OFFICIAL_DERIVED_KEY, config.dataset.res / config.model.pretrained.patchSize);
    }
  }
  return out;
}
