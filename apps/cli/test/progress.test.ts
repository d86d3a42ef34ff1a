import { describe, expect, it } from 'vitest';
import { createProgress } from '../src/progress.js';
import { captureIo } from './helpers.js';

describe('createProgress', () => {
  it('draws a bar with items, rate and ETA in place on a TTY', () => {
    const io = { ...captureIo(), isTTY: true };
    let t = 0;
    const p = createProgress(io, 'train', 10, { now: () => t });
    t = 2000;
    p.tick(4, 'loss 1.5');
    const err = io.err();
    expect(err.startsWith('\rtrain [##########..............] 4/10 2.0 it/s ETA 00:03 loss 1.5')).toBe(true);
  });

  it('prints plain lines at most every `everySeconds` otherwise', () => {
    const io = captureIo();
    let t = 0;
    const p = createProgress(io, 'eval', 100, { now: () => t, everySeconds: 10, unit: 'img' });
    t = 1000;
    p.tick(10); // too soon: nothing
    t = 11_000;
    p.tick(10);
    p.done();
    expect(io.err()).toBe('eval: 20/100 1.8 img/s ETA 00:44\neval: 20/100 1.8 img/s ETA 00:44\n');
  });
});
