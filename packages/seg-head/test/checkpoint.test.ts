import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type HostTensor,
  loadPthFile,
  loadSafetensorsFile,
  type PthValue,
  saveSafetensorsFile,
  selectBackend,
} from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClusterProbe,
  createMomentumHead,
  createSegHead,
  ensureGradients,
  importOfficialHpCheckpoint,
  LinearProbe,
  loadHeadCheckpoint,
  OFFICIAL_HEAD_KEYS,
  ProjectionHead,
  parseSegHeadConfig,
  SEG_HEAD_PARAM_NAMES,
  saveHeadCheckpoint,
} from '../src/index.js';
import { expectClose, expectHpError, expectHpErrorAsync, FIXTURES, fixture, T } from './helpers.js';

const expected = fixture('hp_tiny_expected.json');
const CKPT = join(FIXTURES, 'hp_tiny_ckpt.pth');
let dir = '';

beforeAll(async () => {
  await selectBackend('cpu');
  await ensureGradients();
  dir = await mkdtemp(join(tmpdir(), 'seghead-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Deep copy of a pth dict tree, with an edit applied to one section. */
function edit(value: PthValue, section: string, f: (m: Map<string | number, PthValue>) => void): PthValue {
  const top = new Map(value as Map<string | number, PthValue>);
  const sec = new Map(top.get(section) as Map<string | number, PthValue>);
  f(sec);
  top.set(section, sec);
  return top;
}

describe('importOfficialHpCheckpoint (official-layout ckpt.pth from torch.save)', () => {
  it('infers C = 32, D = 16, K = 3; head, momentum head and probes reproduce PyTorch (rtol 1e-5); backbone passed through', async () => {
    const before = tf.memory().numTensors;
    const imp = await importOfficialHpCheckpoint(CKPT);
    expect(tf.memory().numTensors - before).toBe(6 + 6 + 2 + 1); // only the modules' variables
    expect(imp.config).toMatchObject({ inChannels: 32, dim: 16, nClasses: 3, nClusters: 3 });
    expect(imp.meta).toEqual({ epoch: 1, iter: 99, best_epoch: 1, best_iter: 99, best: 123.25 });
    expect(imp.momentumHead.params['cluster1.0.weight'].trainable).toBe(false);
    const feat = T(expected.feat) as tf.Tensor4D;
    const code = imp.head.forward(feat);
    expectClose(code, expected.code, 1e-5, 1e-6);
    const codeEma = imp.momentumHead.forward(feat);
    expectClose(codeEma, expected.codeEma, 1e-5, 1e-6);
    const cos = imp.clusterProbe.forward(code);
    expectClose(cos, expected.cos, 1e-5, 1e-6);
    const logits = imp.linearProbe.forward(code);
    expectClose(logits, expected.linearLogits, 1e-5, 1e-6);
    const cp = imp.clusterProbe.predict(code);
    const lp = imp.linearProbe.predict(code);
    expect(Array.from(cp.dataSync())).toEqual(expected.clusterPredict.data);
    expect(Array.from(lp.dataSync())).toEqual(expected.linearPredict.data);
    expect([...imp.backbone.keys()].sort()).toEqual(expected.backboneKeys);
    for (const [k, h] of imp.backbone) expect([...h.shape]).toEqual(expected.backboneShapes[k]);
    expect(
      Array.from((imp.backbone.get('model.pos_embed') as HostTensor).data as Float32Array).slice(0, 4),
    ).toEqual(expected.posEmbedFirst.map(Math.fround));
    tf.dispose([feat, code, codeEma, cos, logits, cp, lp]);
    for (const m of [imp.head, imp.momentumHead, imp.linearProbe, imp.clusterProbe]) m.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('transpose table: every conv1x1 rule maps [out, in, 1, 1] to [in, out]; bias and clusters are copied', async () => {
    expect(OFFICIAL_HEAD_KEYS).toHaveLength(15);
    const value = await loadPthFile(CKPT);
    const imp = await importOfficialHpCheckpoint(value);
    for (const r of OFFICIAL_HEAD_KEYS) {
      const src = ((value as Map<string, PthValue>).get(r.section) as Map<string, HostTensor>).get(r.key)!;
      const module = imp[r.target] as unknown as { params: Record<string, tf.Tensor> };
      const dst = module.params[r.param]!;
      const s = src.data as Float32Array;
      const d = dst.dataSync();
      if (r.transform === 'conv1x1') {
        const [out, inn] = src.shape as [number, number];
        expect(dst.shape).toEqual([inn, out]);
        for (let o = 0; o < out; o += 3)
          for (let i = 0; i < inn; i += 5) expect(d[i * out + o]).toBe(s[o * inn + i]);
      } else {
        expect(Array.from(d)).toEqual(Array.from(s));
      }
    }
    for (const m of [imp.head, imp.momentumHead, imp.linearProbe, imp.clusterProbe]) m.dispose();
  });

  it('strict: missing and unexpected head keys are listed together in one E_CHECKPOINT', async () => {
    const value = await loadPthFile(CKPT);
    const broken = edit(value, 'net_model_state_dict', (m) => {
      m.delete('ema_model2.2.bias');
      m.set('cluster3.0.weight', m.get('cluster1.0.weight')!);
    });
    const before = tf.memory().numTensors;
    await expectHpErrorAsync(
      () => importOfficialHpCheckpoint(broken),
      'E_CHECKPOINT',
      'missing [net_model_state_dict.ema_model2.2.bias], unexpected [net_model_state_dict.cluster3.0.weight]',
    );
    const noCluster = new Map(value as Map<string, PthValue>);
    noCluster.delete('cluster_model_state_dict');
    await expectHpErrorAsync(
      () => importOfficialHpCheckpoint(noCluster),
      'E_CHECKPOINT',
      'missing [cluster_model_state_dict (whole section)]',
    );
    expect(tf.memory().numTensors).toBe(before);
  });

  it('wrong widths: a mis-shaped momentum weight and a linear probe of another D are named with their expected shapes', async () => {
    const value = await loadPthFile(CKPT);
    const bad = edit(value, 'net_model_state_dict', (m) => {
      const h = m.get('ema_model1.0.weight') as HostTensor;
      m.set('ema_model1.0.weight', { ...h, shape: [8, 64, 1, 1] });
    });
    await expectHpErrorAsync(
      () => importOfficialHpCheckpoint(bad),
      'E_CHECKPOINT',
      'net_model_state_dict.ema_model1.0.weight [8, 64, 1, 1] (expected [D, C, 1, 1] = [16, 32, 1, 1])',
    );
    const bad2 = edit(value, 'linear_model_state_dict', (m) => {
      m.set('weight', {
        dtype: 'float32',
        storedDtype: 'float32',
        shape: [3, 8, 1, 1],
        data: new Float32Array(24),
      });
    });
    await expectHpErrorAsync(
      () => importOfficialHpCheckpoint(bad2),
      'E_CHECKPOINT',
      'linear_model_state_dict.weight [3, 8, 1, 1]',
    );
  });

  it('a file that is not a checkpoint: E_FORMAT; a missing file: E_NOT_FOUND', async () => {
    const junk = join(dir, 'junk.pth');
    await writeFile(junk, 'not a zip');
    await expectHpErrorAsync(() => importOfficialHpCheckpoint(junk), 'E_FORMAT', 'readPth');
    await expectHpErrorAsync(
      () => importOfficialHpCheckpoint(join(dir, 'none.pth')),
      'E_NOT_FOUND',
      'none.pth',
    );
    await expectHpErrorAsync(() => importOfficialHpCheckpoint([1, 2]), 'E_FORMAT', 'not an HP checkpoint');
  });
});

describe('saveHeadCheckpoint / loadHeadCheckpoint', () => {
  it('round-trips every weight bit-exactly, with and without the projection head; leak-free', async () => {
    const head = createSegHead({ inChannels: 12, dim: 8, seed: 1 });
    const momentumHead = createMomentumHead(head);
    const linearProbe = LinearProbe.create({ nClasses: 5, dim: 8, seed: 2 });
    const clusterProbe = ClusterProbe.create({ nClusters: 6, dim: 8, seed: 3 });
    const projectionHead = ProjectionHead.create({ dim: 8, seed: 4 });
    const path = join(dir, 'head.safetensors');
    const before = tf.memory().numTensors;
    const saved = await saveHeadCheckpoint(path, {
      head,
      momentumHead,
      linearProbe,
      clusterProbe,
      projectionHead,
      config: { extra: { iteration: 7 } },
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(saved.configPath).toBe(join(dir, 'head.json'));
    const json = JSON.parse(await readFile(saved.configPath, 'utf8'));
    expect(json.config).toEqual({
      inChannels: 12,
      dim: 8,
      nClasses: 5,
      nClusters: 6,
      dropoutRate: 0.1,
      extra: { iteration: 7 },
    });
    const loaded = await loadHeadCheckpoint(path);
    expect(tf.memory().numTensors - before).toBe(6 + 6 + 2 + 1 + 2);
    for (const n of SEG_HEAD_PARAM_NAMES) {
      expect(Array.from(loaded.head.params[n].dataSync())).toEqual(Array.from(head.params[n].dataSync()));
      expect(Array.from(loaded.momentumHead.params[n].dataSync())).toEqual(
        Array.from(momentumHead.params[n].dataSync()),
      );
    }
    expect(loaded.momentumHead.params['cluster1.0.bias'].trainable).toBe(false);
    expect(loaded.head.params['cluster1.0.bias'].trainable).toBe(true);
    expect(Array.from(loaded.linearProbe.params.weight.dataSync())).toEqual(
      Array.from(linearProbe.params.weight.dataSync()),
    );
    expect(Array.from(loaded.clusterProbe.params.clusters.dataSync())).toEqual(
      Array.from(clusterProbe.params.clusters.dataSync()),
    );
    expect(Array.from(loaded.projectionHead!.params.bias.dataSync())).toEqual(
      Array.from(projectionHead.params.bias.dataSync()),
    );
    expect(loaded.config.extra).toEqual({ iteration: 7 });
    for (const m of [
      loaded.head,
      loaded.momentumHead,
      loaded.linearProbe,
      loaded.clusterProbe,
      loaded.projectionHead!,
    ])
      m.dispose();
    expect(tf.memory().numTensors).toBe(before);

    const path2 = join(dir, 'noproj.safetensors');
    await saveHeadCheckpoint(path2, { head, momentumHead, linearProbe, clusterProbe });
    const l2 = await loadHeadCheckpoint(path2);
    expect(l2.projectionHead).toBeUndefined();
    for (const m of [l2.head, l2.momentumHead, l2.linearProbe, l2.clusterProbe]) m.dispose();
    for (const m of [head, momentumHead, linearProbe, clusterProbe, projectionHead]) m.dispose();
  });

  it('errors: bad path, config disagreeing with the modules, probe of another width, missing config JSON', async () => {
    const head = createSegHead({ inChannels: 4, dim: 3, seed: 1 });
    const momentumHead = createMomentumHead(head);
    const linearProbe = LinearProbe.create({ nClasses: 2, dim: 3 });
    const clusterProbe = ClusterProbe.create({ nClusters: 2, dim: 3 });
    const wideProbe = LinearProbe.create({ nClasses: 2, dim: 5 });
    const base = { head, momentumHead, linearProbe, clusterProbe };
    await expectHpErrorAsync(
      () => saveHeadCheckpoint(join(dir, 'x.bin'), base),
      'E_ARG',
      'ending in .safetensors',
    );
    await expectHpErrorAsync(
      () => saveHeadCheckpoint(join(dir, 'x.safetensors'), { ...base, config: { dim: 512 } }),
      'E_CONFIG',
      'dim: modules 3, config 512',
    );
    await expectHpErrorAsync(
      () => saveHeadCheckpoint(join(dir, 'x.safetensors'), { ...base, linearProbe: wideProbe }),
      'E_CONFIG',
      'linearProbe D 5',
    );
    const p = join(dir, 'lonely.safetensors');
    await saveHeadCheckpoint(p, base);
    await rm(join(dir, 'lonely.json'));
    await expectHpErrorAsync(() => loadHeadCheckpoint(p), 'E_NOT_FOUND', 'lonely.json');
    for (const m of [head, momentumHead, linearProbe, clusterProbe, wideProbe]) m.dispose();
  });
});

describe('official → ours', () => {
  it('an imported official checkpoint saved with saveHeadCheckpoint loads back with identical outputs', async () => {
    const imp = await importOfficialHpCheckpoint(CKPT);
    const p = join(dir, 'converted.safetensors');
    await saveHeadCheckpoint(p, { ...imp, config: { extra: { source: 'hp_tiny_ckpt.pth' } } });
    const back = await loadHeadCheckpoint(p);
    expect(back.config).toMatchObject({ inChannels: 32, dim: 16, nClasses: 3, nClusters: 3 });
    const feat = T(expected.feat) as tf.Tensor4D;
    const a = back.head.forward(feat);
    const b = back.momentumHead.forward(feat);
    expectClose(a, expected.code, 1e-5, 1e-6);
    expectClose(b, expected.codeEma, 1e-5, 1e-6);
    const pred = back.clusterProbe.predict(a);
    expect(Array.from(pred.dataSync())).toEqual(expected.clusterPredict.data);
    tf.dispose([feat, a, b, pred]);
    for (const m of [imp.head, imp.momentumHead, imp.linearProbe, imp.clusterProbe]) m.dispose();
    for (const m of [back.head, back.momentumHead, back.linearProbe, back.clusterProbe]) m.dispose();
  });
});

describe('config and tampered files', () => {
  it('parseSegHeadConfig collects every problem with its dotted path; defaults fill in', () => {
    expect(parseSegHeadConfig({ inChannels: 384, dim: 512, nClasses: 27, nClusters: 27 })).toEqual({
      inChannels: 384,
      dim: 512,
      nClasses: 27,
      nClusters: 27,
      dropoutRate: 0.1,
      extra: {},
    });
    expectHpError(
      () => parseSegHeadConfig({ inChannels: 0, dim: 1.5, nClasses: 27, nClusters: 27, dropoutRate: 2 }),
      'E_CONFIG',
      'inChannels:',
    );
    try {
      parseSegHeadConfig({ inChannels: 0, dim: 1.5, nClasses: 27, nClusters: 27, dropoutRate: 2 });
    } catch (e) {
      expect((e as { details: { problems: string[] } }).details.problems.map((p) => p.split(':')[0])).toEqual(
        ['inChannels', 'dim', 'dropoutRate'],
      );
    }
  });

  it('loadHeadCheckpoint rejects a safetensors file with an extra and a missing key (one E_CHECKPOINT)', async () => {
    const head = createSegHead({ inChannels: 4, dim: 3, seed: 1 });
    const momentumHead = createMomentumHead(head);
    const linearProbe = LinearProbe.create({ nClasses: 2, dim: 3 });
    const clusterProbe = ClusterProbe.create({ nClusters: 2, dim: 3 });
    const p = join(dir, 'tampered.safetensors');
    await saveHeadCheckpoint(p, { head, momentumHead, linearProbe, clusterProbe });
    const { tensors, metadata } = await loadSafetensorsFile(p);
    tensors.delete('momentumHead.cluster2.2.bias');
    tensors.set('head.extra', tensors.get('head.cluster1.0.bias')!);
    await saveSafetensorsFile(p, tensors, metadata);
    const before = tf.memory().numTensors;
    await expectHpErrorAsync(
      () => loadHeadCheckpoint(p),
      'E_CHECKPOINT',
      'missing [momentumHead.cluster2.2.bias], unexpected [head.extra]',
    );
    expect(tf.memory().numTensors).toBe(before);
    for (const m of [head, momentumHead, linearProbe, clusterProbe]) m.dispose();
  });
});
