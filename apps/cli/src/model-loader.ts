import { open } from 'node:fs/promises';
import { type Backbone, type BackboneEngine, loadBackbone } from '@hpseg/backbone-vit';
import { type HostTensor, HpError, loadPthFile, type StateDict, toStateDict } from '@hpseg/core';
import { ClusterProbe, LinearProbe, SegHead } from '@hpseg/seg-head';
import * as tf from '@tensorflow/tfjs-core';
import { openBackbone } from './backbone.js';
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

/** PyTorch 1×1 conv / linear weight `[out, in(, 1, 1)]` → our `[in, out]` tensor. */
function convToDense(t: HostTensor, name: string): tf.Tensor2D {
  if (t.shape.length !== 4 && t.shape.length !== 2) {
    throw new HpError(
      'E_CHECKPOINT',
      `official checkpoint: ${name} has the wrong rank: expected [out, in, 1, 1], got [${t.shape.join(', ')}]`,
    );
  }
  const [out, inp] = t.shape as [number, number];
  return tf.tidy(
    () => tf.transpose(tf.tensor2d(Float32Array.from(t.data as Float32Array), [out, inp])) as tf.Tensor2D,
  );
}

function vector(t: HostTensor): tf.Tensor1D {
  return tf.tensor1d(Float32Array.from(t.data as Float32Array));
}

function need(sd: StateDict, key: string, where: string): HostTensor {
  const t = sd.get(key);
  if (!t) {
    throw new HpError(
      'E_CHECKPOINT',
      `official checkpoint: ${where} has no ${key}: expected the HP layout (net_model_state_dict, linear_model_state_dict, cluster_model_state_dict)`,
    );
  }
  return t;
}

/**
 * Head and probes of an official HP `ckpt.pth` (`utils/common_utils.py save_checkpoint`), converted
 * to our layout: `cluster1.0.*`, `cluster2.{0,2}.*` of `net_model_state_dict` (the online head; the
 * EMA copies are not used for inference), `linear_model_state_dict.{weight,bias}`,
 * `cluster_model_state_dict.clusters`. The backbone is the `model.*` part of the same dict.
 */
async function loadOfficial(
  path: string,
  weights: string | undefined,
  engine: BackboneEngine,
  numHeads?: number,
) {
  const value = await loadPthFile(path);
  const net = toStateDict(value, { prefix: 'net_model_state_dict' });
  const linear = toStateDict(value, { prefix: 'linear_model_state_dict' });
  const cluster = toStateDict(value, { prefix: 'cluster_model_state_dict' });
  const headWeights: Record<string, tf.Tensor> = {};
  try {
    for (const name of ['cluster1.0', 'cluster2.0', 'cluster2.2']) {
      headWeights[`${name}.weight`] = convToDense(
        need(net, `${name}.weight`, 'net_model_state_dict'),
        `${name}.weight`,
      );
      headWeights[`${name}.bias`] = vector(need(net, `${name}.bias`, 'net_model_state_dict'));
    }
    const lw = convToDense(need(linear, 'weight', 'linear_model_state_dict'), 'linear.weight');
    const lb = vector(need(linear, 'bias', 'linear_model_state_dict'));
    const c = need(cluster, 'clusters', 'cluster_model_state_dict');
    const ct = tf.tensor2d(Float32Array.from(c.data as Float32Array), [
      c.shape[0] as number,
      c.shape[1] as number,
    ]);
    const head = SegHead.fromWeights(headWeights, { dropoutRate: 0.1 });
    const linearProbe = LinearProbe.fromWeights({ weight: lw, bias: lb });
    const clusterProbe = ClusterProbe.fromWeights({ clusters: ct });
    lw.dispose();
    lb.dispose();
    ct.dispose();
    let backbone: Backbone;
    const heads = numHeads ? { numHeads } : {};
    if (weights) backbone = await loadBackbone(weights, { engine, ...heads });
    else {
      const vit: StateDict = new Map();
      for (const [k, t] of net) if (k.startsWith('model.')) vit.set(k.slice('model.'.length), t);
      if (vit.size === 0) {
        throw new HpError(
          'E_CHECKPOINT',
          `official checkpoint: ${path} has no model.* backbone keys: expected the DINO ViT inside net_model_state_dict`,
          {
            hint: 'pass the backbone with --weights',
          },
        );
      }
      backbone = await loadBackbone(vit, { engine, format: 'dino', ...heads });
    }
    return { head, linear: linearProbe, cluster: clusterProbe, backbone };
  } finally {
    for (const t of Object.values(headWeights)) t.dispose();
  }
}

/** Loads our checkpoint (`.safetensors` written by `hpseg train`) or an official HP `ckpt.pth`. */
export async function loadInferenceModel(
  path: string,
  options: { weights?: string; engine: BackboneEngine; numHeads?: number },
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
        engine: options.engine,
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
