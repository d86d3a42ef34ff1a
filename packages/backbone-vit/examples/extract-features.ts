import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { imagenetNormalize, loadBackbone } from '@hpseg/backbone-vit';
import { selectBackend } from '@hpseg/core';
import * as tf from '@tensorflow/tfjs-core';

export async function main(log: (line: string) => void = console.log): Promise<void> {
  await selectBackend('cpu'); // TF.js holds the inputs and outputs; the onnx engine does the compute
  // A tiny DINO-format checkpoint written by torch.save (dim 32, depth 2, 4 heads, patch 8, trained at 32 px).
  // For the real model: const { path } = await fetchDinoWeights('vits8', './weights'); loadBackbone(path)
  const checkpoint = join(dirname(fileURLToPath(import.meta.url)), '../test/fixtures/vit_p8.pth');
  const backbone = await loadBackbone(checkpoint, { engine: 'onnx', numHeads: 4 });
  log(`config: ${JSON.stringify(backbone.config)}`);

  // Two 40x56 RGB images (uint8, NHWC), normalised with the ImageNet statistics.
  const pixels = new Uint8Array(2 * 40 * 56 * 3).map((_, i) => (i * 37) % 256);
  const images = imagenetNormalize({ data: pixels, shape: [2, 40, 56, 3] });
  const { patchTokens, clsToken, attentionLogits } = await backbone.forward(images, { attention: true });
  log(`patchTokens ${patchTokens.shape.join('x')}, clsToken ${clsToken.shape.join('x')}`);
  log(`attentionLogits ${attentionLogits!.shape.join('x')}`);
  const first = Array.from((await patchTokens.data()).slice(0, 4), (v) => v.toFixed(3));
  log(`patchTokens[0, 0, 0, :4] = ${first.join(', ')}`);

  tf.dispose([images, patchTokens, clsToken, attentionLogits!]);
  await backbone.dispose();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
