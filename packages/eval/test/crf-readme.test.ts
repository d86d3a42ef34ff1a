import { expect, it } from 'vitest';
import { readmeBlock, runReadmeBlock } from './readme-blocks.js';

it('the Dense CRF example of README.md prints the output shown there', async () => {
  const printed = await runReadmeBlock('crf-example');
  expect(`${printed.join('\n')}\n`).toBe(readmeBlock('crf-output'));
  // Hand-checkable: the two wrong pixels follow the colour edge after the CRF.
  expect(printed[0]).toBe('unary argmax: 000111 010111 000101 000111');
  expect(printed[1]).toBe('after CRF:    000111 000111 000111 000111');
});
