export { OFFICIAL_DERIVED_KEY, OFFICIAL_KEYS } from './official-keys.js';
export type { HpPresetName } from './presets.js';
export { HP_PRESET_NAMES, HP_PRESETS } from './presets.js';
export { fromOfficialJson, resolveHpConfig, toOfficialJson } from './resolve.js';
export type { HpConfig, HpConfigInput, HpConfigOverrides, HpDerived } from './schema.js';
export { BACKBONE_WIDTH, deriveHpValues, HpConfigSchema } from './schema.js';
