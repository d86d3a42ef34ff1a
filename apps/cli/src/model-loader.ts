import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type Backbone, type BackboneEngine, loadBackbone } from '@hpseg/backbone-vit';
import { HpError } from '@hpseg/core';
import { importOfficialHpCheckpoint } from '@hpseg/seg-head';
import { engineFlag, type FlagValues, intFlag, optionalString } from './args.js';
import { engineOptions, openBackbone } from './backbone.js';
import type { EvalModel } from './evaluate.js';
import { loadCheckpoint } from './train/checkpoint.js';
import { modelsFromStateDict } from './train/models.js';

export interface InferenceModel extends EvalModel {
  readonly source: 'hpseg' | 'official-hp';
  readonly classNames: readonly string[] | null;
  /** Training resolution recorded in the checkpoint (eval defaults to 320 regardless). */
  readonly trainResolution: number | null;
  readonly description: string;
  dispose(): Promise<void>;
}

async function isZip(path: string): Promise<boolean> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, 'r');
    const buf = Buffer.alloc(4);
    await handle.read(buf, 0, 4, 0);
    return buf[0] === 0x50 && buf[1] === 0x4b;
  } catch (error) {
    throw new HpError(
      'E_NOT_FOUND',
      `checkpoint: cannot open ${path}: expected an existing file, got ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  } finally {
    await handle?.close();
  }
}

/**
 * Head and probes of an official HP `ckpt.pth` via `importOfficialHpCheckpoint` of @hpseg/seg-head
 * (strict; the online head is used for inference, the momentum copy is dropped). The backbone is the
 * `model.*` part of `net_model_state_dict`, unless `--weights` names another file.
 */
async function loadOfficial(
  path: string,
  weights: string | undefined,
  engine: BackboneEngine,
  numHeads?: number,
) {
  const imported = await importOfficialHpCheckpoint(path);
  imported.momentumHead.dispose();
  try {
    const heads = numHeads ? { numHeads } : {};
    let backbone: Backbone;
    if (weights) backbone = await loadBackbone(weights, { ...engineOptions(engine), ...heads });
    else {
      if (imported.backbone.size === 0) {
        throw new HpError(
          'E_CHECKPOINT',
          `official checkpoint: ${path} has no model.* backbone keys: expected the DINO ViT inside net_model_state_dict`,
          { hint: 'pass the backbone with --weights' },
        );
      }
      backbone = await loadBackbone(imported.backbone, { ...engineOptions(engine), format: 'hp', ...heads });
    }
    return { head: imported.head, linear: imported.linearProbe, cluster: imported.clusterProbe, backbone };
  } catch (error) {
    imported.head.dispose();
    imported.linearProbe.dispose();
    imported.clusterProbe.dispose();
    throw error;
  }
}

export interface InferenceModelOptions {
  /** A backbone file that replaces the checkpoint's. */
  weights?: string;
  engine: BackboneEngine;
  numHeads?: number;
}

/** `loadInferenceModel` options from a command's `--engine`, `--vit-heads` and `--weights` flags. */
export function inferenceModelFlags(values: FlagValues, command: string): InferenceModelOptions {
  const engine = engineFlag(values, command);
  const heads = intFlag(values, 'vit-heads', command, 0, 0);
  const weights = optionalString(values, 'weights');
  return {
    engine,
    ...(heads > 0 ? { numHeads: heads } : {}),
    ...(weights ? { weights: resolve(weights) } : {}),
  };
}

/** Loads our checkpoint (`.safetensors` written by `hpseg train`) or an official HP `ckpt.pth`. */
export async function loadInferenceModel(
  path: string,
  options: InferenceModelOptions,
): Promise<InferenceModel> {
  if (await isZip(path)) {
    const m = await loadOfficial(path, options.weights, options.engine, options.numHeads);
    return {
      ...m,
      source: 'official-hp',
      classNames: null,
      trainResolution: null,
      description: `official HP checkpoint ${path} (ViT C=${m.backbone.config.embedDim}/p${m.backbone.config.patchSize}, D=${m.head.dim}, K=${m.cluster.nClusters})`,
      async dispose() {
        m.head.dispose();
        m.linear.dispose();
        m.cluster.dispose();
        await m.backbone.dispose();
      },
    };
  }
  const { tensors, meta } = await loadCheckpoint(path);
  const models = modelsFromStateDict(tensors, 0.1);
  models.ema.dispose();
  models.projection.dispose();
  const backbone = options.weights
    ? await loadBackbone(options.weights, {
        ...engineOptions(options.engine),
        ...(options.numHeads ? { numHeads: options.numHeads } : {}),
      })
    : await openBackbone(meta.backbone, options.engine);
  const config = meta.config as { dataset?: { res?: number } };
  return {
    backbone,
    head: models.head,
    linear: models.linear,
    cluster: models.cluster,
    source: 'hpseg',
    classNames: meta.classNames.length > 0 ? meta.classNames : null,
    trainResolution: config.dataset?.res ?? null,
    description: `hpseg checkpoint ${path} (iteration ${meta.iteration}, preset ${meta.preset})`,
    async dispose() {
      models.head.dispose();
      models.linear.dispose();
      models.cluster.dispose();
      await backbone.dispose();
    },
  };
}
