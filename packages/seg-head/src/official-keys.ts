/**
 * The transpose table from an official HP `ckpt.pth` (official-behaviour §4.5) to our modules.
 * `conv1x1`: PyTorch `Conv2d.weight [out, in, 1, 1]` → reshape `[out, in]` → transpose → `[in, out]`.
 * `copy`: same layout (biases, `clusters [K, D]`).
 */
export type OfficialTransform = 'conv1x1' | 'copy';
export type OfficialTarget = 'head' | 'momentumHead' | 'linearProbe' | 'clusterProbe';

export interface OfficialKeyRule {
  /** Top-level entry of the checkpoint dict. */
  readonly section: 'net_model_state_dict' | 'linear_model_state_dict' | 'cluster_model_state_dict';
  /** Key inside that section. */
  readonly key: string;
  readonly target: OfficialTarget;
  /** Parameter name inside the target module. */
  readonly param: string;
  /** PyTorch shape, in the letters of the style guide. */
  readonly torchShape: string;
  /** Our shape after `transform`. */
  readonly ourShape: string;
  readonly transform: OfficialTransform;
}

const headRules = (prefix: 'cluster' | 'ema_model', target: OfficialTarget): OfficialKeyRule[] =>
  (
    [
      {
        key: `${prefix}1.0.weight`,
        param: 'cluster1.0.weight',
        torchShape: '[D, C, 1, 1]',
        ourShape: '[C, D]',
        transform: 'conv1x1',
      },
      {
        key: `${prefix}1.0.bias`,
        param: 'cluster1.0.bias',
        torchShape: '[D]',
        ourShape: '[D]',
        transform: 'copy',
      },
      {
        key: `${prefix}2.0.weight`,
        param: 'cluster2.0.weight',
        torchShape: '[C, C, 1, 1]',
        ourShape: '[C, C]',
        transform: 'conv1x1',
      },
      {
        key: `${prefix}2.0.bias`,
        param: 'cluster2.0.bias',
        torchShape: '[C]',
        ourShape: '[C]',
        transform: 'copy',
      },
      {
        key: `${prefix}2.2.weight`,
        param: 'cluster2.2.weight',
        torchShape: '[D, C, 1, 1]',
        ourShape: '[C, D]',
        transform: 'conv1x1',
      },
      {
        key: `${prefix}2.2.bias`,
        param: 'cluster2.2.bias',
        torchShape: '[D]',
        ourShape: '[D]',
        transform: 'copy',
      },
    ] as Omit<OfficialKeyRule, 'section' | 'target'>[]
  ).map((r) => ({ ...r, section: 'net_model_state_dict' as const, target }));

/** Every head/probe key of an official checkpoint; all are required. */
export const OFFICIAL_HEAD_KEYS: readonly OfficialKeyRule[] = [
  ...headRules('cluster', 'head'),
  ...headRules('ema_model', 'momentumHead'),
  {
    section: 'linear_model_state_dict',
    key: 'weight',
    target: 'linearProbe',
    param: 'weight',
    torchShape: '[K, D, 1, 1]',
    ourShape: '[D, K]',
    transform: 'conv1x1',
  },
  {
    section: 'linear_model_state_dict',
    key: 'bias',
    target: 'linearProbe',
    param: 'bias',
    torchShape: '[K]',
    ourShape: '[K]',
    transform: 'copy',
  },
  {
    section: 'cluster_model_state_dict',
    key: 'clusters',
    target: 'clusterProbe',
    param: 'clusters',
    torchShape: '[K, D]',
    ourShape: '[K, D]',
    transform: 'copy',
  },
];

/** Prefix of the frozen ViT's keys inside `net_model_state_dict` (passed through untouched). */
export const OFFICIAL_BACKBONE_PREFIX = 'model.';
