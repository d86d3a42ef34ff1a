import { z } from 'zod';

/**
 * The full HP training configuration, one field per key of the official `json/server/*.json`
 * files, grouped as there, with readable camelCase names. Every description names the paper
 * symbol (when there is one) and the official key (`← key`). Defaults are the COCO-Stuff-27 values
 * (`json/server/cocostuff.json`); `HP_PRESETS` holds all three official files.
 *
 * `model.spatial_size` is not a field: the patch grid side is derived (`res / patchSize`), see
 * `deriveHpValues`. `fromOfficialJson` checks that an official file's `spatial_size` agrees.
 */

const wandbSchema = z
  .strictObject({
    project: z.string().default('Project_name').describe('W&B project (← wandb.project); unused by hpseg'),
    entity: z.string().default('your_ID').describe('W&B entity (← wandb.entity); unused by hpseg'),
    name: z.string().default('experiment_name').describe('W&B run name (← wandb.name); unused by hpseg'),
    mode: z.string().default('online').describe('W&B mode (← wandb.mode); unused by hpseg'),
  })
  .describe('Weights & Biases logging (← wandb); kept for round-trips, hpseg does not log to W&B');

const datasetSchema = z
  .strictObject({
    dataType: z
      .enum(['cocostuff27', 'cityscapes', 'potsdam', 'potsdamraw'])
      .default('cocostuff27')
      .describe('dataset name (← dataset.data_type)'),
    dataPath: z.string().default('/DATA/seg/cocostuff').describe('dataset root folder (← dataset.data_path)'),
    loaderCropType: z
      .enum(['center', 'random'])
      .default('center')
      .describe('crop of the loader transform (← dataset.loader_crop_type)'),
    cropType: z
      .enum(['five', 'none'])
      .nullable()
      .default('five')
      .describe('pre-computed crop set for training: "five" = five-crop dataset (← dataset.crop_type)'),
    cropRatio: z
      .number()
      .gt(0)
      .lte(1)
      .default(0.5)
      .describe('crop side / image side of the five-crop set (← dataset.crop_ratio)'),
    res: z.int().positive().default(224).describe('training crop side in pixels (← dataset.res)'),
    numNeighbors: z
      .int()
      .nonnegative()
      .default(7)
      .describe('STEGO kNN count (← dataset.num_neighbors); unused by HP'),
  })
  .describe('dataset (← dataset)');

const dataloaderSchema = z
  .strictObject({
    batchSize: z.int().positive().default(64).describe('images per batch B (← dataloader.batch_size)'),
    numWorkers: z.int().nonnegative().default(8).describe('loader workers (← dataloader.num_workers)'),
  })
  .describe('data loader (← dataloader)');

const pretrainedSchema = z
  .strictObject({
    name: z.literal('dino').default('dino').describe('backbone family (← model.pretrained.name)'),
    modelType: z
      .enum(['vit_small', 'vit_base'])
      .default('vit_small')
      .describe('DINO ViT size: vit_small C=384, vit_base C=768 (← model.pretrained.model_type)'),
    patchSize: z
      .union([z.literal(8), z.literal(16)])
      .default(8)
      .describe('ViT patch side p in pixels (← model.pretrained.dino_patch_size)'),
    featType: z
      .literal('feat')
      .default('feat')
      .describe('backbone output used (← model.pretrained.dino_feat_type)'),
    pretrainedWeights: z
      .string()
      .nullable()
      .default(null)
      .describe('local DINO weights; null = official download (← model.pretrained.pretrained_weights)'),
    projectionType: z
      .enum(['nonlinear', 'linear'])
      .default('nonlinear')
      .describe('head branches: linear + non-linear, or linear only (← model.pretrained.projection_type)'),
    dropout: z
      .boolean()
      .default(true)
      .describe('Dropout2d(0.1) on features and head inputs/outputs (← model.pretrained.dropout)'),
  })
  .describe('backbone (← model.pretrained)');

const modelSchema = z
  .strictObject({
    poolSize: z
      .int()
      .positive()
      .default(2048)
      .describe('reference pool size |Q_ag| = |Q_sp|, one patch per image (← model.pool_size)'),
    momentum: z
      .number()
      .gte(0)
      .lte(1)
      .default(0.99)
      .describe('momentum m of the momentum head S′: θ′ ← mθ′ + (1−m)θ (← model.ema_m)'),
    warmup: z
      .int()
      .nonnegative()
      .default(1000)
      .describe('iterations with λ = 0 before the linear ramp of λ (← model.warmup)'),
    name: z.literal('STEGO').default('STEGO').describe('model class (← model.name)'),
    arch: z.literal('dino').default('dino').describe('backbone architecture (← model.arch)'),
    continuous: z
      .literal(true)
      .default(true)
      .describe('continuous head output of width D (← model.continuous)'),
    dim: z.int().positive().default(512).describe('head output width D (← model.dim)'),
    extraClusters: z
      .int()
      .nonnegative()
      .default(0)
      .describe('clusters beyond the class count in the cluster probe (← model.extra_clusters)'),
    bnMomentum: z.number().nullable().default(null).describe('unused (← model.bn_momentum)'),
    bnEps: z.number().nullable().default(null).describe('unused (← model.bn_eps)'),
    pretrained: pretrainedSchema.prefault({}),
  })
  .describe('head and backbone (← model)');

const corrLossSchema = z
  .strictObject({
    negInterWeight: z.number().default(0.63).describe('(← loss.corr_loss.neg_inter_weight) unused'),
    posInterWeight: z.number().default(0.25).describe('(← loss.corr_loss.pos_inter_weight) unused'),
    posIntraWeight: z.number().default(0.67).describe('(← loss.corr_loss.pos_intra_weight) unused'),
    negInterShift: z.number().default(0.66).describe('(← loss.corr_loss.neg_inter_shift) unused'),
    posInterShift: z.number().default(0.02).describe('(← loss.corr_loss.pos_inter_shift) unused'),
    posIntraShift: z.number().default(0.08).describe('(← loss.corr_loss.pos_intra_shift) unused'),
  })
  .describe('STEGO correlation-loss settings (← loss.corr_loss); unused since correspondenceWeight = 0');

const lossSchema = z
  .strictObject({
    name: z.literal('stego').default('stego').describe('(← loss.name)'),
    zeroClamp: z.boolean().default(true).describe('(← loss.zero_clamp) STEGO only, unused'),
    pointwise: z.boolean().default(true).describe('(← loss.pointwise) STEGO only, unused'),
    stabilize: z.boolean().default(false).describe('(← loss.stabilize) STEGO only, unused'),
    featureSamples: z.int().positive().default(11).describe('(← loss.feature_samples) STEGO only, unused'),
    negSamples: z.int().nonnegative().default(5).describe('(← loss.neg_samples) STEGO only, unused'),
    correspondenceWeight: z
      .literal(0)
      .default(0)
      .describe('STEGO correlation-loss weight; HP switches it off (← loss.correspondence_weight)'),
    corrLoss: corrLossSchema.prefault({}),
  })
  .describe('STEGO loss block (← loss); only the linear and cluster probe losses are active');

const netOptimizerSchema = z
  .strictObject({
    name: z.literal('adamw').default('adamw').describe('head optimiser (← optimizer.net.name)'),
    lr: z
      .number()
      .positive()
      .default(5e-4)
      .describe('head and projection learning rate (← optimizer.net.lr)'),
    weightDecay: z
      .number()
      .nonnegative()
      .default(0.1)
      .describe('decoupled weight decay (← optimizer.net.weight_decay)'),
  })
  .describe('segmentation-head optimiser (← optimizer.net)');

const adamSchema = (key: string, lr: number) =>
  z
    .strictObject({
      name: z.literal('adam').default('adam').describe(`(← optimizer.${key}.name)`),
      lr: z.number().positive().default(lr).describe(`learning rate (← optimizer.${key}.lr)`),
    })
    .describe(`${key} probe optimiser (← optimizer.${key})`);

const optimizerSchema = z
  .strictObject({
    net: netOptimizerSchema.prefault({}),
    linear: adamSchema('linear', 1e-3).prefault({}),
    cluster: adamSchema('cluster', 5e-3).prefault({}),
  })
  .describe('optimisers (← optimizer)');

const trainSchema = z
  .strictObject({
    printFreq: z.int().positive().default(25).describe('log every n iterations (← train.print_freq)'),
    validFreq: z.int().positive().default(100).describe('validate every n iterations (← train.valid_freq)'),
    epochs: z.int().positive().default(3).describe('training epochs (← train.epoch)'),
    freezeEncoderBn: z.boolean().default(false).describe('(← train.freeze_encoder_bn) no-op, no BatchNorm'),
    freezeAllBn: z.int().default(-1).describe('(← train.freeze_all_bn) no-op, no BatchNorm'),
    numAccum: z.literal(1).default(1).describe('gradient accumulation steps (← train.num_accum)'),
    gradNorm: z
      .number()
      .positive()
      .default(10)
      .describe('global-norm clipping of the head gradients (← train.grad_norm)'),
  })
  .describe('training loop (← train)');

const evalSchema = z
  .strictObject({
    extraClusters: z.int().nonnegative().default(0).describe('(← eval.extra_clusters)'),
    nImages: z.int().nonnegative().default(5).describe('(← eval.n_images) visualisation only'),
    isCrf: z.boolean().default(true).describe('dense CRF after the probes (← eval.is_crf)'),
    isVisualize: z.boolean().default(false).describe('(← eval.is_visualize)'),
    isDirect: z.boolean().default(false).describe('use the code as logits (← eval.is_direct)'),
    isDiff: z.boolean().default(false).describe('(← eval.is_diff)'),
  })
  .describe('evaluation (← eval)');

export const HpConfigSchema = z
  .strictObject({
    gpuIds: z.array(z.int().nonnegative()).default([0]).describe('(← gpu_ids) unused by hpseg'),
    outputDir: z.string().default('./output/').describe('output folder (← output_dir)'),
    checkpoint: z.string().default('').describe('checkpoint name to evaluate (← checkpoint)'),
    wandb: wandbSchema.prefault({}),
    dataset: datasetSchema.prefault({}),
    dataloader: dataloaderSchema.prefault({}),
    temperature: z
      .number()
      .positive()
      .default(0.8)
      .describe('contrastive temperature τ; the loss is also scaled by τ/0.07 (← tau)'),
    consistencyWeight: z
      .number()
      .nonnegative()
      .default(0.05)
      .describe('weight α of the photometric consistency term mean‖z − z_aug‖ (← alpha)'),
    negativeKeepRatio: z
      .number()
      .gt(0)
      .lte(1)
      .default(0.02)
      .describe('ratio ρ of all tokens kept as negatives in the denominator; 1 = no sampling (← rho)'),
    lossVersion: z
      .literal(1)
      .default(1)
      .describe('loss variant (← loss_version); only 1 is used by the official configs and implemented'),
    reweighting: z
      .literal(1)
      .default(1)
      .describe('per-anchor reweighting by the positive count (← reweighting); only 1 is implemented'),
    renewInterval: z
      .int()
      .positive()
      .default(100)
      .describe('rebuild Q_sp every n batches of an epoch (← renew_interval)'),
    model: modelSchema.prefault({}),
    loss: lossSchema.prefault({}),
    optimizer: optimizerSchema.prefault({}),
    scheduler: z
      .strictObject({})
      .default({})
      .describe('learning-rate schedule (← scheduler); empty = constant'),
    train: trainSchema.prefault({}),
    eval: evalSchema.prefault({}),
  })
  .superRefine((cfg, ctx) => {
    const p = cfg.model.pretrained.patchSize;
    if (cfg.dataset.res % p !== 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['dataset', 'res'],
        message: `must be a multiple of model.pretrained.patchSize (${p}) so the patch grid is whole, got ${cfg.dataset.res}`,
      });
    }
    if (cfg.model.poolSize % cfg.dataloader.batchSize !== 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['model', 'poolSize'],
        message: `must be a multiple of dataloader.batchSize (${cfg.dataloader.batchSize}): the pools take one patch per image from poolSize / batchSize whole batches, got ${cfg.model.poolSize}`,
      });
    }
  })
  .describe('HP training configuration (official json/server/*.json, camelCase)');

/** A validated configuration (all fields present). */
export type HpConfig = z.output<typeof HpConfigSchema>;
/** What a caller may pass: any field may be missing (defaults fill it). */
export type HpConfigInput = z.input<typeof HpConfigSchema>;

/** Deep partial of `HpConfig`, for overrides on top of a preset. */
export type HpConfigOverrides = DeepPartial<HpConfig>;
type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/** Backbone width C of each DINO model type. */
export const BACKBONE_WIDTH = { vit_small: 384, vit_base: 768 } as const;

/** Values computed from a configuration, never configured. */
export interface HpDerived {
  /** Patch-grid side h = w = res / patchSize (official `model.spatial_size`). */
  readonly gridSize: number;
  /** Patches per image P = gridSize². */
  readonly patchesPerImage: number;
  /** Tokens per batch N = B · P. */
  readonly tokensPerBatch: number;
  /** Backbone width C (384 ViT-S, 768 ViT-B). */
  readonly backboneWidth: number;
  /** Multiplier of the contrastive loss, τ / 0.07 (SupCon base temperature). */
  readonly lossScale: number;
  /** Batches read to build a reference pool, poolSize / B. */
  readonly poolBatches: number;
}

export function deriveHpValues(config: HpConfig): HpDerived {
  const gridSize = config.dataset.res / config.model.pretrained.patchSize;
  const patchesPerImage = gridSize * gridSize;
  return {
    gridSize,
    patchesPerImage,
    tokensPerBatch: config.dataloader.batchSize * patchesPerImage,
    backboneWidth: BACKBONE_WIDTH[config.model.pretrained.modelType],
    lossScale: config.temperature / 0.07,
    poolBatches: config.model.poolSize / config.dataloader.batchSize,
  };
}
