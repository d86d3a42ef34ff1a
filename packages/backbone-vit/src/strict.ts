import type { StateDict } from '@hpseg/core';
import { HpError } from '@hpseg/core';
import type { VitConfig } from './config.js';
import { vitKeyShapes } from './config.js';

const LIST_LIMIT = 20;

function listed(items: string[]): string {
  const head = items.slice(0, LIST_LIMIT).join(', ');
  return items.length > LIST_LIMIT ? `${head}, ... (${items.length} in all)` : head;
}

/**
 * Strict loading: throws ONE `E_CHECKPOINT` error listing every missing, unexpected and mis-shaped
 * tensor (also in `error.details`), like PyTorch's `load_state_dict(strict=True)`.
 */
export function checkBackboneStateDict(stateDict: StateDict, config: VitConfig): void {
  const expected = vitKeyShapes(config);
  const missing: string[] = [];
  const unexpected: string[] = [];
  const misShaped: string[] = [];
  const wrongType: string[] = [];
  for (const [key, shape] of expected) {
    const t = stateDict.get(key);
    if (t === undefined) missing.push(key);
    else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      misShaped.push(`${key} (expected [${shape.join(', ')}], got [${t.shape.join(', ')}])`);
    } else if (t.dtype !== 'float32' && t.dtype !== 'float64') {
      wrongType.push(`${key} (expected float, got ${t.dtype})`);
    }
  }
  for (const key of stateDict.keys()) if (!expected.has(key)) unexpected.push(key);
  if (missing.length + unexpected.length + misShaped.length + wrongType.length === 0) return;
  const parts: string[] = [];
  if (missing.length) parts.push(`missing ${missing.length}: ${listed(missing)}`);
  if (unexpected.length) parts.push(`unexpected ${unexpected.length}: ${listed(unexpected)}`);
  if (misShaped.length) parts.push(`mis-shaped ${misShaped.length}: ${listed(misShaped)}`);
  if (wrongType.length) parts.push(`wrong dtype ${wrongType.length}: ${listed(wrongType)}`);
  throw new HpError(
    'E_CHECKPOINT',
    `loadBackbone: the checkpoint does not match a ViT with embedDim ${config.embedDim}, depth ${config.depth}, patch ${config.patchSize}: expected exactly the official DINO tensors, got ${parts.join('; ')}. Check the format option (dino, dino-teacher, timm, hp)`,
    { details: { missing, unexpected, misShaped, wrongType } },
  );
}
