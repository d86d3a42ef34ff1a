import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeGrayPng } from '@hpseg/datasets';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../src/run.js';
import { captureIo } from './helpers.js';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'hp_ckpt');
let dir: string;
let data: string;

/** A miniature Cityscapes in its official layout: 4 train and 2 val images of 48×96 with labelIds 0..33. */
async function writeCityscapes(root: string): Promise<void> {
  for (const [split, city, n] of [
    ['train', 'aachen', 4],
    ['val', 'frankfurt', 2],
  ] as const) {
    await mkdir(join(root, 'leftImg8bit', split, city), { recursive: true });
    await mkdir(join(root, 'gtFine', split, city), { recursive: true });
    for (let i = 0; i < n; i++) {
      const name = `${city}_00000${i}_000019`;
      const rgb = Buffer.alloc(48 * 96 * 3);
      const ids = Buffer.alloc(48 * 96);
      for (let y = 0; y < 48; y++) {
        for (let x = 0; x < 96; x++) {
          const region = (Math.floor(x / 24) + 2 * Math.floor(y / 24) + i) % 4;
          ids[y * 96 + x] = [7, 11, 21, 23][region] as number; // road, building, vegetation, sky
          for (let c = 0; c < 3; c++)
            rgb[(y * 96 + x) * 3 + c] = (60 * region + 40 * c + ((x * 7 + y * 3) % 20)) % 256;
        }
      }
      await sharp(rgb, { raw: { width: 96, height: 48, channels: 3 } })
        .png()
        .toFile(join(root, 'leftImg8bit', split, city, `${name}_leftImg8bit.png`));
      await writeFile(
        join(root, 'gtFine', split, city, `${name}_gtFine_labelIds.png`),
        encodeGrayPng(ids, 48, 96),
      );
    }
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hpseg-cli-cityscapes-'));
  data = join(dir, 'cityscapes');
  await writeCityscapes(data);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a real preset end to end (miniature Cityscapes)', () => {
  it('data prepare → data verify → train → eval', { timeout: 180_000 }, async () => {
    const prep = captureIo();
    const prepCode = await run(['data', 'prepare', '--preset', 'cityscapes', '--data-dir', data], prep);
    expect(prep.err()).not.toContain('hpseg: E_');
    expect(prepCode).toBe(0);
    expect(prep.out()).toContain('20 crops');

    const verify = captureIo();
    // 4 images instead of the 2,975 of Cityscapes train: verify reports the count and exits 3.
    expect(
      await run(['data', 'verify', '--preset', 'cityscapes', '--data-dir', data, '--json'], verify),
    ).toBe(3);
    const reports = JSON.parse(verify.out()) as {
      split: string;
      counts: { found: number; expected: number };
    }[];
    expect(reports.map((r) => [r.split, r.counts.found, r.counts.expected])).toEqual([
      ['train', 20, 14875],
      ['val', 2, 500],
    ]);

    const config = join(dir, 'tiny.json');
    await writeFile(
      config,
      JSON.stringify({ dataset: { res: 32 }, dataloader: { batchSize: 4 }, model: { poolSize: 8, dim: 16 } }),
    );
    const out = join(dir, 'run');
    const train = captureIo();
    const code = await run(
      [
        'train',
        '--preset',
        'cityscapes',
        '--data-dir',
        data,
        '--weights',
        join(FIXTURE, 'ckpt.pth'),
        '--vit-heads',
        '4',
        '--config',
        config,
        '--out',
        out,
        '--iterations',
        '2',
        '--backend',
        'wasm',
        '--json',
      ],
      train,
    );
    expect(train.err()).not.toContain('hpseg: E_');
    expect(code).toBe(0);
    const summary = JSON.parse(train.out());
    expect(summary.iteration).toBe(2);
    expect(summary.validation.clusterMIoU).toBeGreaterThanOrEqual(0);

    const evaluation = captureIo();
    expect(
      await run(
        [
          'eval',
          '--checkpoint',
          join(out, 'checkpoints', 'last.safetensors'),
          '--preset',
          'cityscapes',
          '--data-dir',
          data,
          '--backend',
          'wasm',
          '--json',
        ],
        evaluation,
      ),
    ).toBe(0);
    const report = JSON.parse(evaluation.out());
    expect(report.images).toBe(2);
    expect(report.cluster.protocol.resolution).toEqual([320, 320]);
    expect(report.cluster.perClass).toHaveLength(27);
    expect(report.cluster.perClass[0].name).toBe('road');
  });
});
