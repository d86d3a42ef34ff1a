import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLabelPng } from '@hpseg/datasets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../src/run.js';
import { captureIo } from './helpers.js';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'hp_ckpt');
/** Pixels whose top-1/top-2 gap in the PyTorch reference is below this may flip between float paths. */
const MARGIN = 1e-4;

interface Expected {
  images: string[];
  clusterPred: number[];
  clusterMargin: number[];
  linearPred: number[];
  linearMargin: number[];
  config: { size: number };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hpseg-cli-eval-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('hpseg eval of an official-layout HP ckpt.pth (tools/golden/cli_make_hp_ckpt.py)', () => {
  it('predicts what the PyTorch reference of the eval pipeline predicts', async () => {
    const expected = JSON.parse(await readFile(join(FIXTURE, 'expected.json'), 'utf8')) as Expected;
    const preds = join(dir, 'pred');
    const io = captureIo();
    const code = await run(
      [
        'eval',
        '--checkpoint',
        join(FIXTURE, 'ckpt.pth'),
        '--preset',
        'folder',
        '--data-dir',
        FIXTURE,
        '--resolution',
        String(expected.config.size),
        '--vit-heads',
        '4',
        '--backend',
        'cpu',
        '--save-predictions',
        preds,
        '--out',
        join(dir, 'report.json'),
      ],
      io,
    );
    expect(io.err()).not.toContain('hpseg: E_');
    expect(code).toBe(0);
    expect(io.out()).toContain('cluster (no CRF)');
    const per = expected.config.size * expected.config.size;
    for (const probe of ['cluster', 'linear'] as const) {
      const want = expected[`${probe}Pred`];
      const margin = expected[`${probe}Margin`];
      let compared = 0;
      let mismatched = 0;
      for (const [b, name] of expected.images.entries()) {
        const got = await readLabelPng(join(preds, `${name}.${probe}.png`));
        expect([got.height, got.width]).toEqual([expected.config.size, expected.config.size]);
        for (let i = 0; i < per; i++) {
          if ((margin[b * per + i] as number) < MARGIN) continue;
          compared++;
          if (got.data[i] !== want[b * per + i]) mismatched++;
        }
      }
      expect(compared).toBeGreaterThan(0.95 * 2 * per);
      expect(mismatched).toBe(0);
    }
    const report = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8'));
    expect(report.cluster.protocol.matching).toBe('hungarian');
    expect(report.linear.protocol.matching).toBe('identity');
  });

  it('--crf reports metrics with and without the dense CRF side by side', async () => {
    const io = captureIo();
    const report = join(dir, 'crf.json');
    const code = await run(
      [
        'eval',
        '--checkpoint',
        join(FIXTURE, 'ckpt.pth'),
        '--preset',
        'folder',
        '--data-dir',
        FIXTURE,
        '--resolution',
        '48',
        '--vit-heads',
        '4',
        '--crf',
        '--backend',
        'cpu',
        '--out',
        report,
      ],
      io,
    );
    expect(code).toBe(0);
    expect(io.out()).toMatch(
      /cluster \(no CRF\)[\s\S]*cluster \+ CRF[\s\S]*linear \(no CRF\)[\s\S]*linear \+ CRF/,
    );
    const json = JSON.parse(await readFile(report, 'utf8'));
    expect(json.clusterCrf.protocol.crf).toBe(true);
    expect(json.cluster.protocol.crf).toBe(false);
    expect(json.clusterCrf.metrics.totalPixels).toBe(json.cluster.metrics.totalPixels);
  });

  it('a corrupted checkpoint gives E_FORMAT (exit 4)', async () => {
    const bad = join(dir, 'bad.pth');
    const bytes = await readFile(join(FIXTURE, 'ckpt.pth'));
    const { writeFile } = await import('node:fs/promises');
    await writeFile(bad, bytes.subarray(0, 2000)); // truncated zip
    const io = captureIo();
    const code = await run(
      ['eval', '--checkpoint', bad, '--preset', 'folder', '--data-dir', FIXTURE, '--backend', 'cpu'],
      io,
    );
    expect(io.err()).toMatch(/^hpseg: E_FORMAT: /);
    expect(code).toBe(4);
  });

  it('a missing data dir gives E_NOT_FOUND (exit 3)', async () => {
    const io = captureIo();
    const code = await run(
      [
        'eval',
        '--checkpoint',
        join(FIXTURE, 'ckpt.pth'),
        '--preset',
        'folder',
        '--data-dir',
        join(dir, 'nope'),
      ],
      io,
    );
    expect(io.err()).toMatch(/^hpseg: E_NOT_FOUND: hpseg eval: data folder not found/);
    expect(code).toBe(3);
  });

  it('a wrong preset gives E_ARG (exit 2)', async () => {
    const io = captureIo();
    const code = await run(['train', '--preset', 'imagenet', '--out', join(dir, 'x')], io);
    expect(io.err()).toMatch(
      /^hpseg: E_ARG: hpseg train: unknown preset: expected one of cocostuff27, cityscapes, potsdam, synthetic, got "imagenet"/,
    );
    expect(code).toBe(2);
  });
});
