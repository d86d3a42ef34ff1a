import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selectBackend } from '@hpseg/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DINO_BASE_URL, DINO_PRESETS, fetchDinoWeights, loadBackbone } from '../src/index.js';
import { readGoldenModel } from './golden.js';

describe('DINO_PRESETS', () => {
  it('point at the official files (ViT-S/8: the 300-epoch file)', () => {
    expect(DINO_PRESETS.vits8.url).toBe(
      'https://dl.fbaipublicfiles.com/dino/dino_deitsmall8_300ep_pretrain/dino_deitsmall8_300ep_pretrain.pth',
    );
    expect(DINO_PRESETS.vits16.url).toBe(
      `${DINO_BASE_URL}dino_deitsmall16_pretrain/dino_deitsmall16_pretrain.pth`,
    );
    expect(DINO_PRESETS.vitb16.url).toBe(
      `${DINO_BASE_URL}dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth`,
    );
    expect(DINO_PRESETS.vitb8.url).toBe(`${DINO_BASE_URL}dino_vitbase8_pretrain/dino_vitbase8_pretrain.pth`);
    expect(DINO_PRESETS.vits8).toMatchObject({
      arch: 'vit_small',
      patchSize: 8,
      embedDim: 384,
      numHeads: 6,
      trainedGrid: 28,
    });
    expect(DINO_PRESETS.vitb16).toMatchObject({
      arch: 'vit_base',
      patchSize: 16,
      embedDim: 768,
      numHeads: 12,
      trainedGrid: 14,
    });
  });
});

describe('fetchDinoWeights against a local server', () => {
  const golden = readGoldenModel('vit_p8');
  const body = readFileSync(golden.pthPath);
  const requests: string[] = [];
  let server: Server;
  let baseUrl: string;
  let dir: string;

  beforeAll(async () => {
    await selectBackend('cpu');
    dir = mkdtempSync(join(tmpdir(), 'hpseg-fetch-'));
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      if (req.url !== '/mirror/dino_deitsmall8_300ep_pretrain/dino_deitsmall8_300ep_pretrain.pth') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mirror/`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('downloads the preset file with progress, and the file loads', async () => {
    const progress: number[] = [];
    const result = await fetchDinoWeights('vits8', dir, {
      baseUrl,
      onProgress: (p) => progress.push(p.received),
    });
    expect(result.path).toBe(join(dir, 'dino_deitsmall8_300ep_pretrain.pth'));
    expect(result.bytes).toBe(body.length);
    expect(Buffer.compare(readFileSync(result.path), body)).toBe(0);
    expect(progress.at(-1)).toBe(body.length);
    const backbone = await loadBackbone(result.path, { engine: 'tfjs', numHeads: 4 });
    expect(backbone.config.patchSize).toBe(8);
    await backbone.dispose();
  });

  it('unknown preset → E_ARG; a 404 → E_DOWNLOAD', async () => {
    await expect(fetchDinoWeights('vitl14' as 'vits8', dir)).rejects.toMatchObject({ code: 'E_ARG' });
    await expect(fetchDinoWeights('vitb8', dir, { baseUrl, retries: 0 })).rejects.toMatchObject({
      code: 'E_DOWNLOAD',
    });
  });
});
