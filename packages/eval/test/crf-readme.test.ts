import { expect, it } from 'vitest';
import { denseCrf } from '../src/index.js';

// The example of README.crf.md, line for line (console.log → lines).
it('README.crf.md example prints what the README shows', () => {
  const lines: string[] = [];
  const log = (...parts: string[]) => lines.push(parts.join(' '));

  const height = 4;
  const width = 6;
  const numLabels = 2;
  const image = new Uint8Array(height * width * 3);
  const scores = new Float32Array(height * width * numLabels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      const right = x >= 3;
      image.fill(right ? 255 : 0, p * 3, p * 3 + 3);
      scores[p * numLabels + (right ? 1 : 0)] = 1;
    }
  }
  scores[(1 * width + 1) * numLabels + 1] = 2.5;
  scores[(2 * width + 4) * numLabels + 0] = 2.5;

  const before = denseCrf({
    image,
    height,
    width,
    scores,
    numLabels,
    input: 'logits',
    params: { iterations: 0 },
  });
  const after = denseCrf({ image, height, width, scores, numLabels, input: 'logits' });
  const rows = (labels: Int32Array) =>
    Array.from({ length: height }, (_, y) => labels.slice(y * width, (y + 1) * width).join('')).join(' ');
  log('unary argmax:', rows(before.labels));
  log('after CRF:   ', rows(after.labels));
  const p = 1 * width + 1;
  log(
    'Q at (1, 1): ',
    Array.from(after.probabilities.slice(p * 2, p * 2 + 2), (v) => v.toFixed(4)).join(' '),
  );

  expect(lines).toEqual([
    'unary argmax: 000111 010111 000101 000111',
    'after CRF:    000111 000111 000111 000111',
    'Q at (1, 1):  0.9955 0.0045',
  ]);
});
