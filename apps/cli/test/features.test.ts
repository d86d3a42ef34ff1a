import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../src/run.js';
import { captureIo } from './helpers.js';

let dir: string;
let configPath: string;
const TINY = { consistencyWeight: 0, model: { poolSize: 16 }, dataloader: { batchSize: 4 } };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hpseg-cli-features-'));
  configPath = join(dir, 'tiny.json');
  await writeFile(configPath, JSON.stringify(TINY));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function firstLoss(out: string): number {
  return (JSON.parse(out) as { losses: number[] }).losses[0] as number;
}

describe('hpseg features + train --feature-cache', () => {
  it('trains from the cache with the loss of the online run (float16 features)', {
    timeout: 180_000,
  }, async () => {
    const cache = join(dir, 'cache');
    const io = captureIo();
    const base = ['--preset', 'synthetic', '--config', configPath, '--backend', 'wasm'];
    expect(
      await run(['features', ...base, '--out', cache, '--chunk-size', '16', '--aug-views', '1'], io),
    ).toBe(0);
    expect(io.out()).toContain('64 images, 4 chunks');
    const manifest = JSON.parse(await readFile(join(cache, 'manifest.json'), 'utf8'));
    expect(manifest.format).toBe('hpseg-features/1');
    expect(manifest.chunks[0].sha256).toMatch(/^[0-9a-f]{64}$/);

    const online = captureIo();
    expect(
      await run(['train', ...base, '--out', join(dir, 'online'), '--iterations', '1', '--json'], online),
    ).toBe(0);
    const cached = captureIo();
    expect(
      await run(
        [
          'train',
          ...base,
          '--out',
          join(dir, 'cached'),
          '--iterations',
          '1',
          '--json',
          '--feature-cache',
          cache,
        ],
        cached,
      ),
    ).toBe(0);
    const a = firstLoss(online.out());
    const b = firstLoss(cached.out());
    expect(Math.abs(a - b) / Math.abs(a)).toBeLessThan(1e-3);
  });

  it('refuses a cache made for other data or weights (E_STALE, exit 4)', async () => {
    const io = captureIo();
    const code = await run(
      [
        'train',
        '--preset',
        'synthetic',
        '--config',
        configPath,
        '--seed',
        '7',
        '--out',
        join(dir, 'stale'),
        '--iterations',
        '1',
        '--feature-cache',
        join(dir, 'cache'),
        '--backend',
        'wasm',
      ],
      io,
    );
    expect(io.err()).toMatch(/^hpseg: E_STALE: feature cache: .* is stale or for another run/m);
    expect(code).toBe(4);
  });

  it('detects a corrupted chunk by its checksum (E_FORMAT)', async () => {
    const chunk = join(dir, 'cache', 'chunk-00000.f16');
    const bytes = await readFile(chunk);
    bytes[10] = (bytes[10] as number) ^ 0xff;
    await writeFile(chunk, bytes);
    const io = captureIo();
    const code = await run(
      [
        'train',
        '--preset',
        'synthetic',
        '--config',
        configPath,
        '--out',
        join(dir, 'corrupt'),
        '--iterations',
        '1',
        '--feature-cache',
        join(dir, 'cache'),
        '--backend',
        'wasm',
      ],
      io,
    );
    expect(io.err()).toMatch(/^hpseg: E_FORMAT: feature cache: chunk-00000\.f16 is corrupt/m);
    expect(code).toBe(4);
  });
});
