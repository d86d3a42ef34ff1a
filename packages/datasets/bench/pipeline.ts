// Throughput of the data pipeline stages on one core: `npm run bench -w @hpseg/datasets`.
import { augmentedView, decodeImage, encodeJpeg, syntheticDataset, trainView } from '../src/index.js';

async function time(name: string, n: number, fn: () => unknown | Promise<unknown>): Promise<void> {
  for (let i = 0; i < 2; i++) await fn();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn();
  console.log(`${name.padEnd(44)} ${((performance.now() - t0) / n).toFixed(2)} ms`);
}

const ds = syntheticDataset({ size: 96, length: 1000 });
const big = Uint8Array.from({ length: 480 * 640 * 3 }, (_, i) => (i * 7 + (i >> 11)) % 256);
const jpeg = await encodeJpeg(big, 480, 640);
const item = { image: big, label: new Int32Array(480 * 640), height: 480, width: 640, id: 'x' };
const view = trainView(item, 224);
let k = 0;
await time('decode JPEG 640x480 (sharp)', 20, () => decodeImage(jpeg));
await time('trainView 640x480 -> 224 (image + label)', 20, () => trainView(item, 224));
await time('augmentedView 224, all ops incl. blur', 10, () =>
  augmentedView(view.image, 224, 224, {
    params: {
      order: [3, 2, 1, 0],
      brightness: 1.1,
      contrast: 0.9,
      saturation: 1.2,
      hue: 0.05,
      grayscale: false,
      blurSigma: 1,
    },
  }),
);
await time('syntheticDataset 96x96 item', 20, () => ds.get(k++));
await time('encode JPEG q75 320x320 (five-crop)', 20, () =>
  encodeJpeg(big.subarray(0, 320 * 320 * 3), 320, 320),
);
