import { describe, expect, it } from 'vitest';
import { readmeBlock, runReadmeBlock } from './readme-blocks.js';

describe('README example', () => {
  it('prints exactly the output shown in the README', async () => {
    const printed = await runReadmeBlock('example');
    expect(`${printed.join('\n')}\n`).toBe(readmeBlock('output'));
  });

  it('shows the hand-checked numbers (3 classes, 15 valid pixels, 14 matched)', () => {
    const out = readmeBlock('output');
    expect(out).toContain('counts [cluster, class]: 0 5 1 0 0 5 4 0 0');
    expect(out).toContain('assignment[cluster] = class: 1 2 0');
    // sky 4/4, ground 5/6, plant 5/6 -> mIoU (1 + 5/6 + 5/6) / 3 = 0.8889, accuracy 14/15 = 0.9333
    expect(out).toContain('accuracy 0.9333 mIoU 0.8889');
  });
});
