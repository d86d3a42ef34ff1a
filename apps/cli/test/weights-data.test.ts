import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../src/run.js';
import { captureIo } from './helpers.js';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'hp_ckpt');
let dir: string;
let server: Server;
let base: string;
const PAYLOAD = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hpseg-cli-weights-'));
  server = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': PAYLOAD.length });
    res.end(PAYLOAD);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await rm(dir, { recursive: true, force: true });
});

describe('hpseg weights / data', () => {
  it('weights fetch --url downloads into --out', async () => {
    const io = captureIo();
    const code = await run(['weights', 'fetch', 'tiny.pth', '--url', `${base}/tiny.pth`, '--out', dir], io);
    expect(io.err()).not.toContain('hpseg: E_');
    expect(code).toBe(0);
    expect(Buffer.compare(await readFile(join(dir, 'tiny.pth')), PAYLOAD)).toBe(0);
    expect(io.out()).toContain('5000 bytes');
  });

  it('weights fetch of an unknown preset names the presets', async () => {
    const io = captureIo();
    expect(await run(['weights', 'fetch', 'vit-huge'], io)).toBe(2);
    expect(io.err()).toContain('expected one of vits16, vits8, vitb16, vitb8');
  });

  it('weights inspect reads an official HP ckpt.pth', async () => {
    const io = captureIo();
    expect(await run(['weights', 'inspect', join(FIXTURE, 'ckpt.pth'), '--json'], io)).toBe(0);
    const info = JSON.parse(io.out());
    expect(info.kind).toBe('official HP checkpoint (ckpt.pth)');
    expect(info.architecture).toMatchObject({
      format: 'hp',
      embedDim: 32,
      depth: 2,
      patchSize: 8,
      trainedGrid: 4,
    });
    expect(info.list.map((r: { name: string }) => r.name)).toContain('cluster_model_state_dict.clusters');
  });

  it('data verify of a folder without the five-crop set: E_NOT_FOUND with the expected layout', async () => {
    const io = captureIo();
    expect(await run(['data', 'verify', '--preset', 'cocostuff27', '--data-dir', dir], io)).toBe(3);
    expect(io.err()).toContain('cocostuff27_five_crop_0.5');
  });
});
