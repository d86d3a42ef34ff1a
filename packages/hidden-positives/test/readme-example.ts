import { l2Normalize, selectBackend } from '@hpseg/core';
import {
  consistencyLoss,
  createReferencePools,
  deriveHpValues,
  hiddenPositiveLoss,
  lambdaSchedule,
  localPositiveWeights,
  mixLocalPositives,
  resolveHpConfig,
} from '@hpseg/hidden-positives';
import * as tf from '@tensorflow/tfjs-core';

export async function main(log: (line: string) => void = console.log): Promise<void> {
  await selectBackend('cpu');
  // COCO-Stuff preset, shrunk: 2 images of 32 px → a 4×4 patch grid, pools of 4 rows.
  const config = resolveHpConfig({
    dataset: { res: 32 },
    dataloader: { batchSize: 2 },
    model: { poolSize: 4 },
  });
  const { gridSize } = deriveHpValues(config); // res / patch = 32 / 8
  const [B, C, D, P] = [2, 8, 6, gridSize * gridSize];
  const rand = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);

  // Reference pools: one random patch per image, two batches of two images.
  const pools = createReferencePools({ poolSize: 4, agnosticWidth: C, specificWidth: D, seed: 0 });
  for (const seed of [1, 2]) {
    const f = rand([B, gridSize, gridSize, C], seed); // backbone features
    const s = rand([B, gridSize, gridSize, D], seed + 10); // momentum-head outputs
    await pools.agnostic.add(f);
    await pools.specific.add(s);
    tf.dispose([f, s]);
  }
  const poolAgnostic = pools.agnostic.toTensor(); // [4, C], rows L2-normalised
  const poolSpecific = pools.specific.toTensor(); // [4, D]

  // Local hidden positives from last-block attention logits [B, heads, 1+P, 1+P].
  const attention = rand([B, 3, P + 1, P + 1], 3);
  const weights = localPositiveWeights(attention, { gridSize }); // [B, P, 9]
  const code = rand([B, gridSize, gridSize, D], 4); // head output s
  const mixed = mixLocalPositives(code, weights); // [B, h, w, D]

  const lambda = lambdaSchedule({ iteration: 1500, warmup: config.model.warmup, maxIterations: 11631 });
  const featBackbone = rand([B * P, C], 5);
  const codeMomentum = rand([B * P, D], 6);
  // z and z̃ stand for normalize(Z(s)) and normalize(Z(s_mix)), token-major [N, D].
  const z = l2Normalize(tf.reshape(code, [-1, D])) as tf.Tensor2D;
  const zMix = l2Normalize(tf.reshape(mixed, [-1, D])) as tf.Tensor2D;
  const zAug = l2Normalize(rand([B * P, D], 8)); // the photometrically augmented view
  const hp = (zz: tf.Tensor, zm: tf.Tensor) =>
    hiddenPositiveLoss({
      z: zz as tf.Tensor2D,
      zMix: zm as tf.Tensor2D,
      featBackbone: featBackbone as tf.Tensor2D,
      codeMomentum: codeMomentum as tf.Tensor2D,
      poolAgnostic,
      poolSpecific,
      lambda,
      temperature: config.temperature,
      negativeKeepRatio: config.negativeKeepRatio,
      gridSize,
      seed: 7,
    });
  const { value, grads } = tf.valueAndGrads(hp)([z, zMix]); // exact gradients w.r.t. z and z̃
  const consistency = consistencyLoss(z, zAug); // weighted by config.consistencyWeight (α)

  const kept = Array.from(weights.dataSync()).filter((w) => w > 0).length;
  log(
    `grid ${gridSize}×${gridSize}, N = ${B * P}, λ = ${lambda.toFixed(4)}, τ = ${config.temperature}, ρ = ${config.negativeKeepRatio}`,
  );
  log(`local weights [${weights.shape}], ${kept} of ${B * P * 9} window entries kept`);
  log(
    `L_HP = ${value.dataSync()[0]!.toFixed(4)}, α·L_cons = ${(config.consistencyWeight * consistency.dataSync()[0]!).toFixed(4)}`,
  );
  log(
    `‖dL_HP/dz‖ = ${tf.norm(grads[0]!).dataSync()[0]!.toFixed(4)}, ‖dL_HP/dz̃‖ = ${tf.norm(grads[1]!).dataSync()[0]!.toFixed(4)}`,
  );
  tf.dispose([poolAgnostic, poolSpecific, attention, weights, code, mixed, featBackbone, codeMomentum]);
  tf.dispose([z, zMix, zAug, value, consistency, ...grads]);
}
