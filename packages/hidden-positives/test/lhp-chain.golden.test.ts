import { selectBackend } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';
// Test-only: the reshapes of the chain need tfjs-core's registered gradients (vitest can import this
// ESM file; the package itself never relies on it).
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { l2Normalize } from '@hpseg/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { hiddenPositiveLoss, localPositiveWeights, mixLocalPositives } from '../src/index.js';
import type { Chain } from './fixture-types.js';
import { expectClose, fixture } from './helpers.js';

const chain = fixture<{ chain: Chain }>('hp_loss.json').chain;

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`LHP gradient propagation, head output → mix → normalize → loss (${backend})`, () => {
    beforeAll(async () => {
      await selectBackend(backend);
    });

    it('loss within 1e-5 relative and d loss / d code within 1e-4 of the PyTorch chain', () => {
      const [B, h, w, D] = chain.codeShape;
      const N = B * h * w;
      const attention = tf.tensor4d(chain.attention, chain.attentionShape);
      const code = tf.tensor4d(chain.codeNHWC, chain.codeShape);
      const featBackbone = tf.tensor2d(chain.featBackbone, [N, chain.C]);
      const codeMomentum = tf.tensor2d(chain.codeMomentum, [N, D]);
      const poolAgnostic = tf.tensor2d(chain.poolAgnostic, [chain.Q, chain.C]);
      const poolSpecific = tf.tensor2d(chain.poolSpecific, [chain.Q, D]);
      const weights = localPositiveWeights(attention, { gridSize: chain.gridSize });
      const { value, grad } = tf.valueAndGrad((c: tf.Tensor) =>
        hiddenPositiveLoss({
          z: l2Normalize(tf.reshape(c, [N, D])) as tf.Tensor2D,
          zMix: l2Normalize(tf.reshape(mixLocalPositives(c, weights), [N, D])) as tf.Tensor2D,
          featBackbone,
          codeMomentum,
          poolAgnostic,
          poolSpecific,
          lambda: chain.lambda,
          temperature: chain.temperature,
          gridSize: chain.gridSize,
        }),
      )(code);
      expect(Math.abs(value.dataSync()[0]! - chain.loss)).toBeLessThanOrEqual(1e-5 * Math.abs(chain.loss));
      expectClose(grad.dataSync(), chain.gradCodeNHWC, 1e-4, 'd loss / d code');
      tf.dispose([
        attention,
        code,
        featBackbone,
        codeMomentum,
        poolAgnostic,
        poolSpecific,
        weights,
        value,
        grad,
      ]);
    });
  });
}
