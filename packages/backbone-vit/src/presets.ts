/** Official DINO release checkpoints (official-behaviour §1.3, HP `DinoFeaturizer.py:26-62`). Data module. */
export type DinoPresetName = 'vits16' | 'vits8' | 'vitb16' | 'vitb8';

export interface DinoPreset {
  readonly name: DinoPresetName;
  /** DINO's constructor name. */
  readonly arch: 'vit_small' | 'vit_base';
  readonly patchSize: 8 | 16;
  readonly embedDim: number;
  readonly depth: number;
  readonly numHeads: number;
  /** Side of the trained patch grid (224 px / patch). */
  readonly trainedGrid: number;
  readonly url: string;
  readonly fileName: string;
  /** SHA-256 of the file when known. Not published by the DINO authors; left undefined rather than guessed. */
  readonly sha256: string | undefined;
  /** Size in bytes when known (undefined: not verified here). */
  readonly size: number | undefined;
}

export const DINO_BASE_URL = 'https://dl.fbaipublicfiles.com/dino/';

function preset(name: DinoPresetName, arch: DinoPreset['arch'], patchSize: 8 | 16, stem: string): DinoPreset {
  const small = arch === 'vit_small';
  return {
    name,
    arch,
    patchSize,
    embedDim: small ? 384 : 768,
    depth: 12,
    numHeads: small ? 6 : 12,
    trainedGrid: 224 / patchSize,
    url: `${DINO_BASE_URL}${stem}/${stem}.pth`,
    fileName: `${stem}.pth`,
    sha256: undefined,
    size: undefined,
  };
}

export const DINO_PRESETS: Readonly<Record<DinoPresetName, DinoPreset>> = {
  vits16: preset('vits16', 'vit_small', 16, 'dino_deitsmall16_pretrain'),
  // HP and STEGO use the 300-epoch ViT-S/8 file, not dino_deitsmall8_pretrain.pth.
  vits8: preset('vits8', 'vit_small', 8, 'dino_deitsmall8_300ep_pretrain'),
  vitb16: preset('vitb16', 'vit_base', 16, 'dino_vitbase16_pretrain'),
  vitb8: preset('vitb8', 'vit_base', 8, 'dino_vitbase8_pretrain'),
};
