import { join } from 'node:path';
import type { DownloadProgress } from '@hpseg/core';
import { downloadFile, HpError } from '@hpseg/core';
import type { DinoPreset, DinoPresetName } from './presets.js';
import { DINO_BASE_URL, DINO_PRESETS } from './presets.js';

export interface FetchDinoWeightsOptions {
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  /** Extra attempts after a dropped connection (each resumes the partial file). */
  retries?: number;
  /** A mirror replacing `https://dl.fbaipublicfiles.com/dino/` (same folder layout). */
  baseUrl?: string;
}

export interface FetchDinoWeightsResult {
  path: string;
  preset: DinoPreset;
  bytes: number;
  sha256: string;
  resumed: boolean;
}

/**
 * Downloads an official DINO checkpoint into `dir` (resumable `.part` file, atomic rename, SHA-256/size
 * check when the preset knows them). Returns the file path; pass it to `loadBackbone`.
 */
export async function fetchDinoWeights(
  name: DinoPresetName,
  dir: string,
  options: FetchDinoWeightsOptions = {},
): Promise<FetchDinoWeightsResult> {
  const preset = (DINO_PRESETS as Record<string, DinoPreset | undefined>)[name];
  if (!preset) {
    throw new HpError(
      'E_ARG',
      `fetchDinoWeights: unknown preset: expected one of ${Object.keys(DINO_PRESETS).join(', ')}, got ${JSON.stringify(name)}`,
    );
  }
  const url =
    options.baseUrl === undefined
      ? preset.url
      : `${options.baseUrl.replace(/\/?$/, '/')}${preset.url.slice(DINO_BASE_URL.length)}`;
  const result = await downloadFile({
    url,
    dest: join(dir, preset.fileName),
    ...(preset.sha256 ? { sha256: preset.sha256 } : {}),
    ...(preset.size ? { size: preset.size } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.retries !== undefined ? { retries: options.retries } : {}),
  });
  return { path: result.path, preset, bytes: result.bytes, sha256: result.sha256, resumed: result.resumed };
}
