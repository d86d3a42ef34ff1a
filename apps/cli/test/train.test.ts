import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRunCheckpoint } from '@hpseg/train';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../src/run.js';
import { captureIo } from './helpers.js';

let dir: string;
let configPath: string;

/** A tiny run: 8-image batches of 64 px, the demo's random ViT, no consistency term (α = 0). */
const TINY = { consistencyWeight: 0, model: { poolSize: 16 }, dataloader: { batchSize: 4 } };

async function steps(runDir: string): Promise<{ iteration: number; loss: number }[]> {
  const text = await readFile(join(runDir, 'log.jsonl'), 'utf8');
  return text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; iteration: number; loss: number })
    .filter((r) => r.type === 'step');
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hpseg-cli-train-'));
  configPath = join(dir, 'tiny.json');
  await writeFile(configPath, JSON.stringify(TINY));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('hpseg train (synthetic, tiny random ViT)', () => {
  it('runs 3 iterations, logs JSONL and writes the last checkpoint', async () => {
    const io = captureIo();
    const out = join(dir, 'full');
    const code = await run(
      [
        'train',
        '--preset',
        'synthetic',
        '--config',
        configPath,
        '--out',
        out,
        '--iterations',
        '3',
        '--backend',
        'wasm',
        '--json',
        '--select-best',
      ],
      io,
    );
    expect(io.err()).not.toContain('hpseg: E_');
    expect(code).toBe(0);
    const summary = JSON.parse(io.out()) as { status: string; iteration: number; losses: number[] };
    expect(summary.status).toBe('completed');
    expect(summary.iteration).toBe(3);
    expect(summary.losses).toHaveLength(3);
    for (const l of summary.losses) expect(Number.isFinite(l)).toBe(true);
    expect((await stat(join(out, 'checkpoints', 'last.safetensors'))).size).toBeGreaterThan(1000);
    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
    expect(config.config.model.poolSize).toBe(16);
    expect(config.versions['@hpseg/cli']).toBe('0.1.0');
    // --matmul-engine auto on wasm: the heads' products on ONNX Runtime, printed and recorded
    expect(io.err()).toMatch(/heads' matrix products: onnxruntime \(\d+ threads?\)/);
    expect(config.matmulEngine).toMatch(/^onnxruntime \(\d+ threads?\)$/);
    expect((await steps(out)).map((s) => s.iteration)).toEqual([0, 1, 2]);
    // --select-best: the official selection on validation labels, labelled as such
    const best = await loadRunCheckpoint(join(out, 'checkpoints', 'best.safetensors'));
    expect(best.meta.kind).toBe('best');
    expect(best.meta.selection).toContain('uses validation labels');
    expect(best.meta.best?.iteration).toBe(2);
  });

  it('stopping at 2 and resuming reproduces the 3rd loss exactly', async () => {
    const out = join(dir, 'resumed');
    const first = captureIo();
    const argv = [
      'train',
      '--preset',
      'synthetic',
      '--config',
      configPath,
      '--out',
      out,
      '--iterations',
      '3',
    ];
    expect(await run([...argv, '--stop-at', '2', '--backend', 'wasm'], first)).toBe(0);
    expect(first.out()).toContain('stopped at iteration 2');
    const second = captureIo();
    expect(await run(['train', '--resume', out, '--backend', 'wasm'], second)).toBe(0);
    const resumed = await steps(out);
    const full = await steps(join(dir, 'full'));
    expect(resumed.map((s) => s.iteration)).toEqual([0, 1, 2]);
    expect(resumed[2]!.loss).toBe(full[2]!.loss); // bit-identical
    expect(resumed[0]!.loss).toBe(full[0]!.loss);
  });

  it('Ctrl-C (abort signal) finishes the step, writes a checkpoint and exits 130', async () => {
    const out = join(dir, 'interrupted');
    const controller = new AbortController();
    controller.abort();
    const io = captureIo(controller.signal);
    const code = await run(
      [
        'train',
        '--preset',
        'synthetic',
        '--config',
        configPath,
        '--out',
        out,
        '--iterations',
        '3',
        '--backend',
        'wasm',
      ],
      io,
    );
    expect(code).toBe(130);
    expect(io.out()).toContain('interrupted at iteration 1');
    expect((await stat(join(out, 'checkpoints', 'last.safetensors'))).size).toBeGreaterThan(1000);
  });

  it('a non-finite loss stops the run with E_NUMERIC (exit 7) and logs the step', async () => {
    const out = join(dir, 'nan');
    const cfg = join(dir, 'nan.json');
    await writeFile(
      cfg,
      JSON.stringify({ ...TINY, optimizer: { linear: { lr: 1e38 }, cluster: { lr: 1e38 } } }),
    );
    const io = captureIo();
    const code = await run(
      [
        'train',
        '--preset',
        'synthetic',
        '--config',
        cfg,
        '--out',
        out,
        '--iterations',
        '4',
        '--backend',
        'wasm',
      ],
      io,
    );
    expect(io.err()).toMatch(/^hpseg: E_NUMERIC: train: non-finite loss at iteration \d/m);
    expect(code).toBe(7);
    const log = (await readFile(join(out, 'log.jsonl'), 'utf8')).trim().split('\n');
    expect(JSON.parse(log[log.length - 1] as string).type).toBe('error');
  });

  it('--matmul-engine: tfjs is recorded; an unknown engine is E_ARG (exit 2) naming the choices', async () => {
    const io = captureIo();
    const out = join(dir, 'tfjs-products');
    const args = [
      'train',
      '--preset',
      'synthetic',
      '--config',
      configPath,
      '--out',
      out,
      '--iterations',
      '1',
    ];
    const code = await run([...args, '--backend', 'wasm', '--matmul-engine', 'tfjs', '--json'], io);
    expect(io.err()).not.toContain('hpseg: E_');
    expect(code).toBe(0);
    expect(io.err()).toContain("heads' matrix products: tfjs");
    expect(JSON.parse(await readFile(join(out, 'config.json'), 'utf8')).matmulEngine).toBe('tfjs');
    const bad = captureIo();
    expect(await run([...args.slice(0, 6), join(dir, 'y'), '--matmul-engine', 'blas'], bad)).toBe(2);
    expect(bad.err()).toMatch(
      /^hpseg: E_ARG: hpseg train: bad --matmul-engine: expected one of auto, onnx, tfjs, got "blas"/m,
    );
  });

  it('refuses official options it does not implement (E_CONFIG, exit 2)', async () => {
    const cfg = join(dir, 'linear-head.json');
    await writeFile(cfg, JSON.stringify({ model: { pretrained: { projectionType: 'linear' } } }));
    const io = captureIo();
    const code = await run(
      ['train', '--preset', 'synthetic', '--config', cfg, '--out', join(dir, 'x'), '--backend', 'wasm'],
      io,
    );
    expect(io.err()).toMatch(
      /^hpseg: E_CONFIG: train: unsupported configuration: model\.pretrained\.projectionType/m,
    );
    expect(code).toBe(2);
  });
});
