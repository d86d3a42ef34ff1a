// The README example, verbatim (imported from the package entry by the README test).
import {
  augmentedView,
  iterateBatches,
  stackImages,
  stackLabels,
  syntheticDataset,
  trainView,
} from '../src/index.js';

export async function readmeExample(log: (line: string) => void = console.log): Promise<void> {
  const dataset = syntheticDataset({ seed: 0, length: 10, size: 96, numClasses: 4 });
  log(`${dataset.name}: ${dataset.length} items, classes ${dataset.classNames.join(', ')}`);

  const batches = iterateBatches(dataset, {
    batchSize: 4,
    shuffle: true,
    seed: 1,
    dropLast: true,
    transform: (item) => trainView(item, 64), // shorter side -> 64 (NEAREST), centre crop 64
  });
  for await (const batch of batches) {
    const images = stackImages(batch.items); // float32 [B, 64, 64, 3], ImageNet-normalised
    const labels = stackLabels(batch.items); // int32 [B, 64, 64], -1 = ignore
    log(
      `batch ${batch.indices.join(',')}: images ${images.shape.join('x')}, labels ${labels.shape.join('x')}`,
    );
  }

  const item = await dataset.get(0);
  const aug = augmentedView(item.image, item.height, item.width, { seed: 7 });
  const { order, brightness, grayscale, blurSigma } = aug.params;
  log(
    `augmented view: order ${order.join(',')}, brightness ${brightness.toFixed(3)}, grayscale ${grayscale}, blur ${blurSigma?.toFixed(3) ?? 'none'}`,
  );
}
