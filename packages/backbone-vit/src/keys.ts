import type { StateDict } from '@hpseg/core';
import { HpError } from '@hpseg/core';

/**
 * Naming schemes of ViT checkpoints:
 * - `dino`: official DINO release files (`dino_deitsmall8_300ep_pretrain.pth`), the target names;
 * - `dino-teacher`: a DINO training checkpoint's `teacher` (or `student`) dict: `module.` / `backbone.`
 *   prefixes, plus the DINO projection head `head.*`, which is dropped (the official code loads it non-strict);
 * - `timm`: timm `VisionTransformer` names. Identical for DINO-shaped models except the classifier `head.*`,
 *   which is dropped; `norm_pre`, `fc_norm`, `ls1`/`ls2`, `reg_token` have no DINO counterpart and are left in
 *   place, so strict loading reports them;
 * - `hp`: an HP checkpoint's `net_model_state_dict`: ViT under `model.`; the segmentation heads
 *   (`cluster1.*`, `cluster2.*`, `ema_model*.*`) are ignored.
 */
export type BackboneKeyFormat = 'dino' | 'dino-teacher' | 'timm' | 'hp';
export const BACKBONE_KEY_FORMATS: readonly (BackboneKeyFormat | 'auto')[] = [
  'auto',
  'dino',
  'dino-teacher',
  'timm',
  'hp',
];

/** Container names that may lead the keys when a whole checkpoint was flattened with dots. */
const TEACHER_ROOTS = ['teacher.', 'student.', 'state_dict.'];
const HP_ROOT = 'net_model_state_dict.';

/** Guesses the naming scheme from the keys. */
export function detectBackboneKeyFormat(stateDict: StateDict): BackboneKeyFormat {
  const keys = [...stateDict.keys()];
  if (keys.some((k) => k.startsWith(HP_ROOT) || /^(cluster[12]|ema_model[12])\./.test(k))) return 'hp';
  if (keys.some((k) => k.startsWith('model.blocks.') || k === 'model.pos_embed')) return 'hp';
  if (keys.some((k) => /(^|\.)(module|backbone)\./.test(k) || k.startsWith('teacher.')))
    return 'dino-teacher';
  if (keys.some((k) => /^(head|fc_norm|norm_pre)\./.test(k) || k.startsWith('head.'))) return 'timm';
  return 'dino';
}

function stripAll(key: string, prefix: string): string {
  let k = key;
  while (k.includes(prefix)) k = k.replace(prefix, '');
  return k;
}

/**
 * Renames the keys of a ViT state dict to the official DINO names (pure: tensors are shared, not
 * copied). The result still has to pass strict loading (`checkBackboneStateDict`).
 */
export function normalizeBackboneKeys(
  stateDict: StateDict,
  format: BackboneKeyFormat | 'auto' = 'auto',
): StateDict {
  if (!BACKBONE_KEY_FORMATS.includes(format)) {
    throw new HpError(
      'E_ARG',
      `normalizeBackboneKeys: unknown format: expected one of ${BACKBONE_KEY_FORMATS.join(', ')}, got ${JSON.stringify(format)}`,
    );
  }
  const fmt = format === 'auto' ? detectBackboneKeyFormat(stateDict) : format;
  const out: StateDict = new Map();
  const put = (key: string, value: StateDict extends Map<string, infer V> ? V : never, from: string) => {
    if (out.has(key)) {
      throw new HpError(
        'E_CHECKPOINT',
        `normalizeBackboneKeys: two tensors map to the same name: expected unique names after renaming (${fmt}), got '${key}' twice (last from '${from}')`,
      );
    }
    out.set(key, value);
  };
  for (const [key, value] of stateDict) {
    switch (fmt) {
      case 'dino':
        put(key, value, key);
        break;
      case 'dino-teacher': {
        let k = key;
        for (const root of TEACHER_ROOTS) if (k.startsWith(root)) k = k.slice(root.length);
        k = stripAll(stripAll(k, 'module.'), 'backbone.');
        if (k.startsWith('head.')) break; // DINOHead projection (training only)
        put(k, value, key);
        break;
      }
      case 'timm':
        if (key.startsWith('head.') || key === 'head') break; // classifier
        put(key, value, key);
        break;
      case 'hp': {
        const k = key.startsWith(HP_ROOT) ? key.slice(HP_ROOT.length) : key;
        if (!k.startsWith('model.')) break; // cluster1/2, ema_model1/2: the segmentation heads
        put(k.slice('model.'.length), value, key);
        break;
      }
    }
  }
  return out;
}
