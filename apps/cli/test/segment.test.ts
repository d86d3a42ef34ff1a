import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../src/run.js';
import { captureIo } from './helpers.js';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'hp_ckpt');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hpseg-cli-segment-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function size(path: string): Promise<[number, number]> {
  const m = await sharp(path).metadata();
  return [m.width ?? 0, m.height ?? 0];
}

describe('hpseg segment', () => {
  it('writes label and overlay PNGs of the input size (odd, non-square, padded) and a legend', async () => {
    // 50x37: not a multiple of the patch (8) in either direction
    const odd = join(dir, 'odd.png');
    const pixels = Buffer.alloc(50 * 37 * 3);
    for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 37) % 251;
    await sharp(pixels, { raw: { width: 50, height: 37, channels: 3 } })
      .png()
      .toFile(odd);
    const out = join(dir, 'seg');
    for (const fit of ['pad', 'resize']) {
      const io = captureIo();
      const code = await run(
        [
          'segment',
          odd,
          join(FIXTURE, 'images', 'img0.png'),
          '--checkpoint',
          join(FIXTURE, 'ckpt.pth'),
          '--out',
          out,
          '--vit-heads',
          '4',
          '--fit',
          fit,
          '--backend',
          'cpu',
        ],
        io,
      );
      expect(io.err()).not.toContain('hpseg: E_');
      expect(code).toBe(0);
      expect(await size(join(out, 'odd.labels.png'))).toEqual([50, 37]);
      expect(await size(join(out, 'odd.overlay.png'))).toEqual([50, 37]);
      expect(await size(join(out, 'img0.labels.png'))).toEqual([48, 48]);
    }
    const legend = JSON.parse(await readFile(join(out, 'legend.json'), 'utf8'));
    expect(legend.legend).toHaveLength(5);
    expect(legend.probe).toBe('cluster');
  });

  it('without images: E_ARG', async () => {
    const io = captureIo();
    expect(await run(['segment', '--checkpoint', 'x', '--out', dir], io)).toBe(2);
    expect(io.err()).toContain('hpseg: E_ARG: hpseg segment: no images');
  });
});
