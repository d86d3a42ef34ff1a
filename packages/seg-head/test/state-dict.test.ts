import { selectBackend } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ClusterProbe,
  createMomentumHead,
  createSegHead,
  disposeHeadModules,
  type HeadModules,
  headModulesFromStateDict,
  headModulesToStateDict,
  headStateDictKeys,
  LinearProbe,
  ProjectionHead,
} from '../src/index.js';
import { expectHpError } from './helpers.js';

function modules(withProjection: boolean): HeadModules {
  const head = createSegHead({ inChannels: 5, dim: 3, seed: 1 });
  return {
    head,
    momentumHead: createMomentumHead(head),
    linearProbe: LinearProbe.create({ nClasses: 2, dim: 3, seed: 2 }),
    clusterProbe: ClusterProbe.create({ nClusters: 4, dim: 3, seed: 3 }),
    ...(withProjection ? { projectionHead: ProjectionHead.create({ dim: 3, seed: 4 }) } : {}),
  };
}

describe('head state dict: the one key layout of head checkpoints and training runs', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('round-trips every module bit for bit, with exactly the documented keys', async () => {
    const m = modules(true);
    const sd = await headModulesToStateDict(m);
    expect([...sd.keys()]).toEqual(headStateDictKeys(true));
    expect([...sd.keys()].slice(0, 7)).toEqual([
      'head.cluster1.0.weight',
      'head.cluster1.0.bias',
      'head.cluster2.0.weight',
      'head.cluster2.0.bias',
      'head.cluster2.2.weight',
      'head.cluster2.2.bias',
      'momentumHead.cluster1.0.weight',
    ]);
    expect(sd.get('linearProbe.weight')!.shape).toEqual([3, 2]); // [in, out]
    expect(sd.get('clusterProbe.clusters')!.shape).toEqual([4, 3]);
    const before = tf.memory().numTensors;
    const back = headModulesFromStateDict(sd, { dropoutRate: 0.2 });
    expect(tf.memory().numTensors - before).toBe(6 + 6 + 2 + 1 + 2); // only the new variables
    expect(back.momentumHead.trainable).toBe(false);
    expect(back.head.dropoutRate).toBe(0.2);
    const again = await headModulesToStateDict(back);
    for (const [k, v] of sd)
      expect(Array.from(again.get(k)!.data as Float32Array)).toEqual(Array.from(v.data as Float32Array));
    disposeHeadModules(m);
    disposeHeadModules(back);
  });

  it('never invents weights: a missing projection head is E_CHECKPOINT when training needs it', async () => {
    const m = modules(false);
    const sd = await headModulesToStateDict(m);
    expect(sd.has('projectionHead.weight')).toBe(false);
    expectHpError(
      () => headModulesFromStateDict(sd, { projection: true, source: 'run.safetensors' }),
      'E_CHECKPOINT',
      'missing [projectionHead.weight, projectionHead.bias]',
    );
    const inference = headModulesFromStateDict(sd); // projection not asked for: none built
    expect(inference.projectionHead).toBeUndefined();
    disposeHeadModules(m);
    disposeHeadModules(inference);
  });

  it('is strict about unknown keys, except under the prefixes a caller owns, and about widths', async () => {
    const m = modules(true);
    const sd = await headModulesToStateDict(m);
    sd.set('optimizer.head.x', {
      dtype: 'float32',
      storedDtype: 'float32',
      shape: [1],
      data: new Float32Array(1),
    });
    expectHpError(() => headModulesFromStateDict(sd), 'E_CHECKPOINT', 'unexpected [optimizer.head.x]');
    const ok = headModulesFromStateDict(sd, { otherPrefixes: ['optimizer.'] });
    disposeHeadModules(ok);
    sd.set('clusterProbe.clusters', {
      dtype: 'float32',
      storedDtype: 'float32',
      shape: [4, 2],
      data: new Float32Array(8),
    });
    expectHpError(
      () => headModulesFromStateDict(sd, { otherPrefixes: ['optimizer.'] }),
      'E_CHECKPOINT',
      'module widths disagree: expected (C, D) = (5, 3) throughout, got clusterProbe D 2',
    );
    disposeHeadModules(m);
  });
});
