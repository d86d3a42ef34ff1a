import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { l2Normalize, selectBackend, setHostMatMul } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
import seedrandom from 'seedrandom';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setFusedLossProfiler } from '../src/fused/engine.js';
import {
  disposeFusedLoss,
  fusedLossThreads,
  type HiddenPositiveLossInputs,
  hiddenPositiveLoss,
  initFusedLoss,
  resolveLossEngine,
} from '../src/index.js';
import { catchError, expectClose, expectNoLeak, referenceHostMatMul } from './helpers.js';

/** Clustered selection features, so that every image has positives at ρ < 1 too. */
function clusteredInputs(batch: number, grid: number, d: number, c: number, q: number, seed: number) {
  const n = batch * grid * grid;
  return tf.tidy(() => {
    const centers = (width: number, s: number) => tf.randomNormal([4, width], 0, 1, 'float32', s);
    const pick = (width: number, rows: number, s: number) =>
      tf.add(
        tf.gather(centers(width, s), tf.randomUniform([rows], 0, 4, 'int32', s + 1)),
        tf.randomNormal([rows, width], 0, 0.7, 'float32', s + 2),
      ) as tf.Tensor2D;
    return {
      z: l2Normalize(tf.randomNormal([n, d], 0, 1, 'float32', seed)) as tf.Tensor2D,
      zMix: l2Normalize(tf.randomNormal([n, d], 0, 1, 'float32', seed + 1)) as tf.Tensor2D,
      featBackbone: pick(c, n, seed + 10),
      codeMomentum: pick(d, n, seed + 20),
      poolAgnostic: pick(c, q, seed + 10),
      poolSpecific: pick(d, q, seed + 20),
    };
  });
}
type Tensors = ReturnType<typeof clusteredInputs>;

function lossAndGrads(x: Tensors, options: Partial<HiddenPositiveLossInputs>) {
  const { value, grads } = tf.valueAndGrads((z: tf.Tensor, m: tf.Tensor) =>
    hiddenPositiveLoss({
      ...x,
      lambda: 0.5,
      temperature: 0.6,
      gridSize: 4,
      ...options,
      z: z as tf.Tensor2D,
      zMix: m as tf.Tensor2D,
    }),
  )([x.z, x.zMix]);
  const out = { loss: value.dataSync()[0]!, gz: grads[0]!.dataSync(), gm: grads[1]!.dataSync() };
  tf.dispose([value, ...grads]);
  return out;
}

/** The engines agree as the golden tolerances demand: loss 1e-5 relative, gradients 1e-4. */
function expectSameResult(a: ReturnType<typeof lossAndGrads>, b: ReturnType<typeof lossAndGrads>) {
  expect(Number.isFinite(a.loss)).toBe(true);
  expect(Math.abs(a.loss - b.loss)).toBeLessThanOrEqual(1e-5 * Math.abs(b.loss));
  expectClose(a.gz, b.gz, 1e-4, 'dL/dz');
  expectClose(a.gm, b.gm, 1e-4, 'dL/dzMix');
  expect(Math.max(...Array.from(b.gz, Math.abs))).toBeGreaterThan(1e-4);
}

for (const [threads, product] of [
  [1, false],
  [2, false],
  [2, true],
] as const) {
  const label = `wasm, ${threads} thread${threads > 1 ? 's' : ''}${product ? ', dense phases on a host matrix product' : ''}`;
  describe(`fused engine equals the TF.js engine (${label})`, () => {
    let x: Tensors;
    const host = referenceHostMatMul();
    beforeAll(async () => {
      await selectBackend('wasm');
      await initFusedLoss({ threads });
      x = clusteredInputs(5, 4, 12, 10, 24, 3);
    });
    afterAll(async () => {
      tf.dispose(Object.values(x));
      await disposeFusedLoss();
      // The TF.js engine does not use the product; the fused one asked it for criteria and pairs.
      if (product) expect(host.calls).toBeGreaterThan(0);
    });
    /** The fused engine's result, with the host product installed for it alone when this run has one. */
    const fused = (options: Partial<HiddenPositiveLossInputs>) => {
      if (product) setHostMatMul(host);
      try {
        return lossAndGrads(x, { ...options, engine: 'fused' });
      } finally {
        setHostMatMul(undefined);
      }
    };

    it('runs on the requested threads', () => {
      expect(fusedLossThreads()).toBe(threads);
    });

    it('ρ = 0.3 from a seed: the same Bernoulli draw as tf.randomUniform(...) < ρ', () => {
      const opts = { negativeKeepRatio: 0.3, seed: 11 };
      expectSameResult(fused(opts), lossAndGrads(x, { ...opts, engine: 'tfjs' }));
      // another seed gives another draw on both
      const other = fused({ negativeKeepRatio: 0.3, seed: 12 });
      expect(Math.abs(other.loss - fused(opts).loss)).toBeGreaterThan(1e-4);
    });

    it('an injected bool negativeMask, λ = 0 and λ = 1', () => {
      const mask = tf.tidy(() => tf.less(tf.randomUniform([16, 80], 0, 1, 'float32', 5), 0.4)) as tf.Tensor2D;
      for (const lambda of [0, 1]) {
        const opts = { negativeMask: mask, lambda };
        expectSameResult(fused(opts), lossAndGrads(x, { ...opts, engine: 'tfjs' }));
      }
      mask.dispose();
    });

    it('ρ = 1 (every token a negative)', () => {
      expectSameResult(fused({}), lossAndGrads(x, { engine: 'tfjs' }));
    });

    it('an all-zero mask: anchors outside V have an empty contrast set and contribute 0', () => {
      const zeros = tf.zeros([16, 80]) as tf.Tensor2D;
      const opts = { negativeMask: zeros };
      expectSameResult(fused(opts), lossAndGrads(x, { ...opts, engine: 'tfjs' }));
      zeros.dispose();
    });

    it('a 10×10 grid at ρ = 0.05: several super-units of row groups, most positives outside R', () => {
      // P = 100 row groups make 4 super-units of ≤ 32 (shared by the threads); 4 clusters make about a
      // quarter of the tokens each anchor's positives, nearly all outside its 5 % of R: the extra
      // entries, sorted by column within each image's run of consecutive anchors.
      const wide = clusteredInputs(4, 10, 12, 10, 24, 7);
      let tile = 0;
      let extra = 0;
      setFusedLossProfiler({
        phase: () => {},
        entries: (t, e) => {
          tile = t;
          extra = e;
        },
      });
      try {
        const opts = { negativeKeepRatio: 0.05, seed: 3, gridSize: 10 };
        const got = (() => {
          if (product) setHostMatMul(host);
          try {
            return lossAndGrads(wide, { ...opts, engine: 'fused' });
          } finally {
            setHostMatMul(undefined);
          }
        })();
        expect(extra).toBeGreaterThan(2 * tile);
        expectSameResult(got, lossAndGrads(wide, { ...opts, engine: 'tfjs' }));
      } finally {
        setFusedLossProfiler(undefined);
        tf.dispose(Object.values(wide));
      }
    });

    it('is deterministic: the same inputs give bit-identical results', () => {
      const a = fused({ negativeKeepRatio: 0.3, seed: 4 });
      const b = fused({ negativeKeepRatio: 0.3, seed: 4 });
      expect(a.loss).toBe(b.loss);
      expect(Array.from(a.gz)).toEqual(Array.from(b.gz));
    });

    it('leaks no tensors with and without a gradient tape', () => {
      const base = { ...x, lambda: 0.5, temperature: 0.6, gridSize: 4, engine: 'fused' as const };
      expectNoLeak(
        () => hiddenPositiveLoss({ ...base, negativeKeepRatio: 0.5, seed: 1 }),
        (out) => [out],
      );
      expectNoLeak(
        () =>
          tf.valueAndGrads((z: tf.Tensor, m: tf.Tensor) =>
            hiddenPositiveLoss({
              ...base,
              z: z as tf.Tensor2D,
              zMix: m as tf.Tensor2D,
              negativeKeepRatio: 0.5,
            }),
          )([x.z, x.zMix]),
        (out) => [out.value, ...out.grads],
      );
    });
  });
}

describe("the fused engine's ρ-mask draw", () => {
  it('tf.randomUniform([P, N], 0, 1, float32, seed) is seedrandom.alea(String(seed)) in order, as float32', async () => {
    for (const backend of ['cpu', 'wasm'] as const) {
      await selectBackend(backend);
      for (const seed of [0, 7, 123456789]) {
        const u = tf.randomUniform([16, 50], 0, 1, 'float32', seed);
        const random = seedrandom.alea(String(seed));
        const mine = Float32Array.from({ length: 800 }, () => random());
        expect(Array.from(u.dataSync())).toEqual(Array.from(mine));
        u.dispose();
      }
    }
  });
});

describe('engine choice and options', () => {
  it("'auto' is the fused engine on wasm and cpu", async () => {
    await selectBackend('wasm');
    expect(resolveLossEngine('auto')).toBe('fused');
    expect(resolveLossEngine()).toBe('fused');
    expect(resolveLossEngine('tfjs')).toBe('tfjs');
    await selectBackend('cpu');
    expect(resolveLossEngine('auto')).toBe('fused');
  });

  it('rejects a bad engine and bad thread counts with stable codes and messages', async () => {
    await selectBackend('cpu');
    const x = clusteredInputs(2, 4, 6, 5, 8, 1);
    const e = catchError(() =>
      hiddenPositiveLoss({
        ...x,
        lambda: 0,
        temperature: 0.5,
        gridSize: 4,
        engine: 'gpu' as unknown as 'tfjs',
      }),
    );
    expect(e.code).toBe('E_ARG');
    expect(e.message).toContain(
      "hiddenPositiveLoss: engine is invalid: expected one of 'auto', 'tfjs', 'fused', got",
    );
    for (const threads of [0, 1.5, 1000]) {
      const err = await initFusedLoss({ threads }).then(
        () => ({ code: 'none', message: '' }),
        (error: { code: string; message: string }) => error,
      );
      expect(err.code).toBe('E_ARG');
      expect(err.message).toContain('initFusedLoss: threads is invalid: expected an integer in [1, 256]');
    }
    tf.dispose(Object.values(x));
  });

  it('started workers do not keep the process alive (no dispose)', () => {
    const script = `
      import { l2Normalize, selectBackend, setHostMatMul } from '@hpseg/core';
      import * as tf from '@tensorflow/tfjs-core';
      import { fusedLossThreads, hiddenPositiveLoss, initFusedLoss } from './src/index.ts';
      await selectBackend('cpu');
      await initFusedLoss({ threads: 2 });
      const x = (s) => tf.randomNormal([32, 6], 0, 1, 'float32', s);
      const loss = hiddenPositiveLoss({ z: x(1), zMix: x(2), featBackbone: x(3), codeMomentum: x(4),
        poolAgnostic: x(5), poolSpecific: x(6), lambda: 0.5, temperature: 0.5, gridSize: 4, engine: 'fused' });
      console.log('threads', fusedLossThreads(), 'loss', loss.dataSync()[0]);`;
    const root = fileURLToPath(new URL('..', import.meta.url));
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--conditions=@hpseg/source', '--input-type=module', '-e', script],
      { cwd: root, encoding: 'utf8', timeout: 30_000 },
    );
    expect(run.error, String(run.error)).toBeUndefined(); // a timeout would mean the workers held it
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^threads 2 loss -?\d/);
  });
});
