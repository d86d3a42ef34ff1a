import { open } from 'node:fs/promises';
import { type Backbone, type LoadBackboneOptions, loadBackbone } from '@hpseg/backbone-vit';
import { HpError, loadSafetensorsFile } from '@hpseg/core';
import {
  disposeHeadModules,
  HEAD_CHECKPOINT_FORMAT,
  importOfficialHpCheckpoint,
  loadHeadCheckpoint,
} from '@hpseg/seg-head';
import { modelsFromRunCheckpoint, parseRunCheckpoint, runMetaOf } from './checkpoint.js';
import type { InferenceModules } from './evaluate.js';
import { type DatasetSpec, openBackbone } from './specs.js';

/** A model ready for `predict` / `evaluate`, with what its file says about it. */
export interface InferenceModel extends InferenceModules {
  /** `hpseg-run`: a training checkpoint; `hpseg-head`: a `saveHeadCheckpoint` file; `official-hp`: a `ckpt.pth`. */
  readonly source: 'hpseg-run' | 'hpseg-head' | 'official-hp';
  readonly classNames: readonly string[] | null;
  /** Training resolution recorded in the file (evaluation uses 320 regardless, as the official code). */
  readonly trainResolution: number | null;
  /** The validation set a run recorded (synthetic runs evaluate on it). */
  readonly validation: DatasetSpec | null;
  readonly description: string;
  dispose(): Promise<void>;
}

export interface LoadInferenceModelOptions {
  /** A backbone file (DINO `.pth`, …) that replaces the checkpoint's; required for head-only files. */
  readonly weights?: string;
  /** Engine and its options for the backbone (default ONNX Runtime). */
  readonly backbone?: LoadBackboneOptions;
}

async function firstBytes(path: string): Promise<Buffer> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, 'r');
    const buf = Buffer.alloc(4);
    await handle.read(buf, 0, 4, 0);
    return buf;
  } catch (error) {
    throw new HpError(
      'E_NOT_FOUND',
      `loadInferenceModel: cannot open ${path}: expected an existing checkpoint file, got ${(error as Error).message}`,
      { cause: error },
    );
  } finally {
    await handle?.close();
  }
}

function withBackbone(
  modules: Omit<InferenceModules, 'backbone'>,
  backbone: Backbone,
  extra: Omit<InferenceModel, keyof InferenceModules | 'dispose'>,
  momentumHead: { dispose(): void } | undefined,
): InferenceModel {
  momentumHead?.dispose(); // inference uses the online head (official-behaviour §2.1)
  return {
    backbone,
    head: modules.head,
    linearProbe: modules.linearProbe,
    clusterProbe: modules.clusterProbe,
    ...extra,
    async dispose() {
      disposeHeadModules({
        head: modules.head,
        linearProbe: modules.linearProbe,
        clusterProbe: modules.clusterProbe,
      });
      await backbone.dispose();
    },
  };
}

/**
 * Loads a model for inference from any checkpoint hpseg reads: an official HP `ckpt.pth` (head and
 * probes through `importOfficialHpCheckpoint`, the backbone from its `model.*` keys), a run checkpoint of
 * `train` (`checkpoints/last.safetensors`, the backbone from the spec it records) or a head checkpoint of
 * `saveHeadCheckpoint` (the backbone from `options.weights`). `options.weights` replaces the backbone in
 * every case. The online head is used; the momentum head is dropped.
 */
export async function loadInferenceModel(
  path: string,
  options: LoadInferenceModelOptions = {},
): Promise<InferenceModel> {
  const head = await firstBytes(path);
  const backboneOptions = options.backbone ?? {};
  const fromWeights = () => (options.weights ? loadBackbone(options.weights, backboneOptions) : null);
  if (head[0] === 0x50 && head[1] === 0x4b) {
    const imported = await importOfficialHpCheckpoint(path);
    try {
      let backbone = await fromWeights();
      if (backbone === null) {
        if (imported.backbone.size === 0) {
          throw new HpError(
            'E_CHECKPOINT',
            `loadInferenceModel: ${path} has no model.* backbone keys: expected the DINO ViT inside net_model_state_dict, got none`,
            { hint: 'pass the backbone weights (hpseg: --weights)' },
          );
        }
        backbone = await loadBackbone(imported.backbone, { ...backboneOptions, format: 'hp' });
      }
      const c = imported.config;
      return withBackbone(
        imported,
        backbone,
        {
          source: 'official-hp',
          classNames: null,
          trainResolution: null,
          validation: null,
          description: `official HP checkpoint ${path} (ViT C=${c.inChannels}/p${backbone.config.patchSize}, D=${c.dim}, K=${c.nClusters})`,
        },
        imported.momentumHead,
      );
    } catch (error) {
      disposeHeadModules(imported);
      throw error;
    }
  }
  const content = await loadSafetensorsFile(path);
  if (content.metadata.format === HEAD_CHECKPOINT_FORMAT) {
    if (!options.weights) {
      throw new HpError(
        'E_ARG',
        `loadInferenceModel: ${path} is a head checkpoint (no backbone inside): expected backbone weights with it, got none`,
        { hint: 'pass the DINO weights the head was trained on (hpseg: --weights)' },
      );
    }
    const checkpoint = await loadHeadCheckpoint(path);
    try {
      const backbone = (await fromWeights()) as Backbone;
      return withBackbone(
        checkpoint,
        backbone,
        {
          source: 'hpseg-head',
          classNames: null,
          trainResolution: null,
          validation: null,
          description: `hpseg head checkpoint ${path} (C=${checkpoint.config.inChannels}, D=${checkpoint.config.dim}, K=${checkpoint.config.nClusters})`,
        },
        checkpoint.momentumHead,
      );
    } catch (error) {
      disposeHeadModules(checkpoint);
      throw error;
    }
  }
  if (runMetaOf(content) === null) {
    throw new HpError(
      'E_FORMAT',
      `loadInferenceModel: ${path} is not a checkpoint hpseg knows: expected an official HP ckpt.pth, a run checkpoint or a head checkpoint, got a safetensors file without hpseg metadata`,
    );
  }
  const run = parseRunCheckpoint(content, path);
  const modules = modelsFromRunCheckpoint(run, 0, { projection: false, source: path });
  try {
    const m = run.meta;
    let backbone = await fromWeights();
    if (backbone === null) {
      if (m.backbone === null) {
        throw new HpError(
          'E_ARG',
          `loadInferenceModel: ${path} records no backbone (the run was given one in code): expected backbone weights, got none`,
          { hint: 'pass the backbone weights of the run (hpseg: --weights)' },
        );
      }
      backbone = await openBackbone(m.backbone, backboneOptions);
    }
    const config = m.config as { dataset?: { res?: number } };
    return withBackbone(
      modules,
      backbone,
      {
        source: 'hpseg-run',
        classNames: m.classNames.length > 0 ? m.classNames : null,
        trainResolution: config.dataset?.res ?? null,
        validation: m.validation,
        description: `hpseg checkpoint ${path} (iteration ${m.iteration}, preset ${m.preset ?? 'none'})`,
      },
      modules.momentumHead,
    );
  } catch (error) {
    disposeHeadModules(modules);
    throw error;
  }
}
