export type { HpConfig, HpConfigInput, HpConfigOverrides, HpDerived, HpPresetName } from './config/index.js';
export {
  BACKBONE_WIDTH,
  deriveHpValues,
  fromOfficialJson,
  HP_PRESET_NAMES,
  HP_PRESETS,
  HpConfigSchema,
  OFFICIAL_DERIVED_KEY,
  OFFICIAL_KEYS,
  resolveHpConfig,
  toOfficialJson,
} from './config/index.js';
