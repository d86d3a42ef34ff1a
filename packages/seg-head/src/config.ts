import { HpError } from '@hpseg/core';
import { z } from 'zod';

/** Widths and settings of the head and probes, stored as JSON next to a head checkpoint. */
export const SegHeadConfigSchema = z.object({
  inChannels: z
    .number()
    .int()
    .positive()
    .describe('Backbone width C (384 ViT-S, 768 ViT-B); official: derived from pretrained.model_type'),
  dim: z
    .number()
    .int()
    .positive()
    .describe('Head output width D; official model.dim: 512 COCO-Stuff / Cityscapes, 256 Potsdam'),
  nClasses: z
    .number()
    .int()
    .positive()
    .describe('Linear-probe classes K (27 COCO-Stuff / Cityscapes, 3 Potsdam)'),
  nClusters: z
    .number()
    .int()
    .positive()
    .describe('Cluster-probe centroids; official n_classes + model.extra_clusters (extra = 0 everywhere)'),
  dropoutRate: z
    .number()
    .min(0)
    .max(0.999999)
    .default(0.1)
    .describe('Dropout2d rate of the head inputs in training mode; official nn.Dropout2d(p=.1)'),
  extra: z
    .record(z.string(), z.unknown())
    .default({})
    .describe(
      'Anything else the caller wants to keep with the weights (training config, iteration, metrics)',
    ),
});
export type SegHeadConfig = z.output<typeof SegHeadConfigSchema>;
export type SegHeadConfigInput = z.input<typeof SegHeadConfigSchema>;

/** Validates a config, collecting every problem with its dotted path into one `E_CONFIG`. */
export function parseSegHeadConfig(value: unknown, fn = 'parseSegHeadConfig'): SegHeadConfig {
  const result = SegHeadConfigSchema.safeParse(value);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new HpError(
      'E_CONFIG',
      `${fn}: invalid seg-head config: expected a valid config, got ${problems.join('; ')}`,
      {
        details: { problems },
      },
    );
  }
  return result.data;
}
