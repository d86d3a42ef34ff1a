import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type DownloadProgress, downloadFile } from '../src/index.js';

const CONTENT = randomBytes(200_000);
const SHA = createHash('sha256').update(CONTENT).digest('hex');

/** Requests seen by the server: path and Range header. */
let seen: { path: string; range: string | undefined }[] = [];
let dropsLeft = 0;
let server: Server;
let base = '';

function serveRange(req: IncomingMessage, res: ServerResponse, body: Uint8Array): void {
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (m !== null) {
    const start = Number(m[1]);
    if (start >= body.length) {
      res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
      return;
    }
    res.writeHead(206, {
      'content-length': body.length - start,
      'content-range': `bytes ${start}-${body.length - 1}/${body.length}`,
    });
    res.end(body.subarray(start));
    return;
  }
  res.writeHead(200, { 'content-length': body.length });
  res.end(body);
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const path = req.url ?? '';
  seen.push({ path, range: req.headers.range });
  if (path === '/file.bin') {
    serveRange(req, res, CONTENT);
    return;
  }
  if (path === '/norange.bin') {
    res.writeHead(200, { 'content-length': CONTENT.length });
    res.end(CONTENT);
    return;
  }
  if (path === '/drop.bin') {
    if (dropsLeft > 0) {
      dropsLeft--;
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      const start = m ? Number(m[1]) : 0;
      res.writeHead(m ? 206 : 200, {
        'content-length': CONTENT.length - start,
        ...(m ? { 'content-range': `bytes ${start}-${CONTENT.length - 1}/${CONTENT.length}` } : {}),
      });
      // send 50 kB, then cut the connection
      res.write(CONTENT.subarray(start, start + 50_000), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    serveRange(req, res, CONTENT);
    return;
  }
  if (path === '/corrupt.bin') {
    const bad = Buffer.from(CONTENT);
    bad[1234] = bad[1234]! ^ 0xff;
    serveRange(req, res, bad);
    return;
  }
  if (path === '/etag.bin') {
    // ETag "v2"; honours If-Range: a stale validator gets the whole file with 200
    const ifRange = req.headers['if-range'];
    if (ifRange !== undefined && ifRange !== '"v2"') {
      res.writeHead(200, { 'content-length': CONTENT.length, etag: '"v2"' });
      res.end(CONTENT);
      return;
    }
    res.setHeader('etag', '"v2"');
    serveRange(req, res, CONTENT);
    return;
  }
  if (path === '/redirect') {
    res.writeHead(302, { location: '/file.bin' }).end();
    return;
  }
  if (path === '/stall.bin') {
    res.writeHead(200, { 'content-length': CONTENT.length });
    res.write(CONTENT.subarray(0, 1000)); // then nothing
    return;
  }
  res.writeHead(404).end('not found');
}

beforeAll(async () => {
  server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
beforeEach(() => {
  seen = [];
  dropsLeft = 0;
});

const tmp = (): string => mkdtempSync(join(tmpdir(), 'hpseg-dl-'));

async function rejection(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (error) {
    const e = error as { name: string; code: string; message: string };
    expect(e.name, String(error)).toBe('HpError');
    return e;
  }
  throw new Error('expected an HpError, got success');
}

describe('downloadFile (local HTTP server on 127.0.0.1)', () => {
  it('downloads, verifies SHA-256 and size, reports progress, leaves no .part', async () => {
    const dest = join(tmp(), 'sub', 'w.bin');
    const progress: DownloadProgress[] = [];
    const r = await downloadFile({
      url: `${base}/file.bin`,
      dest,
      sha256: SHA,
      size: CONTENT.length,
      onProgress: (p) => progress.push(p),
    });
    expect(r).toEqual({ path: dest, bytes: CONTENT.length, sha256: SHA, resumed: false });
    expect(readFileSync(dest).equals(CONTENT)).toBe(true);
    expect(existsSync(`${dest}.part`)).toBe(false);
    expect(progress.at(-1)!.received).toBe(CONTENT.length);
    expect(progress.at(-1)!.total).toBe(CONTENT.length);
    expect(seen).toEqual([{ path: '/file.bin', range: undefined }]);
  });

  it('resumes a partial .part file with a Range request', async () => {
    const dest = join(tmp(), 'w.bin');
    writeFileSync(`${dest}.part`, CONTENT.subarray(0, 70_000));
    const r = await downloadFile({ url: `${base}/file.bin`, dest, sha256: SHA });
    expect(r.resumed).toBe(true);
    expect(seen).toEqual([{ path: '/file.bin', range: 'bytes=70000-' }]);
    expect(readFileSync(dest).equals(CONTENT)).toBe(true);
  });

  it('restarts when the server answers 200 to a Range request', async () => {
    const dest = join(tmp(), 'w.bin');
    writeFileSync(`${dest}.part`, CONTENT.subarray(0, 70_000));
    const r = await downloadFile({ url: `${base}/norange.bin`, dest, sha256: SHA });
    expect(r.resumed).toBe(false);
    expect(seen[0]!.range).toBe('bytes=70000-');
    expect(readFileSync(dest).equals(CONTENT)).toBe(true);
  });

  it('survives a connection dropped mid-body by resuming', async () => {
    dropsLeft = 2;
    const dest = join(tmp(), 'w.bin');
    const r = await downloadFile({
      url: `${base}/drop.bin`,
      dest,
      sha256: SHA,
      retries: 3,
      retryDelayMs: 10,
    });
    expect(readFileSync(dest).equals(CONTENT)).toBe(true);
    expect(r.resumed).toBe(true);
    expect(seen.map((s) => s.range)).toEqual([undefined, 'bytes=50000-', 'bytes=100000-']);
  });

  it('gives up with E_DOWNLOAD after the retries, keeping the .part for later', async () => {
    dropsLeft = 5;
    const dest = join(tmp(), 'w.bin');
    const e = await rejection(downloadFile({ url: `${base}/drop.bin`, dest, retries: 1, retryDelayMs: 10 }));
    expect(e.code).toBe('E_DOWNLOAD');
    expect(e.message).toContain('failed after 2 attempts');
    expect(readFileSync(`${dest}.part`).length).toBe(100_000);
  });

  it('deletes the .part and writes nothing at dest on a checksum mismatch', async () => {
    const dest = join(tmp(), 'w.bin');
    const e = await rejection(downloadFile({ url: `${base}/corrupt.bin`, dest, sha256: SHA }));
    expect(e.code).toBe('E_DOWNLOAD');
    expect(e.message).toContain(`expected ${SHA}, got `);
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it('refuses a wrong size', async () => {
    const dest = join(tmp(), 'w.bin');
    const e = await rejection(downloadFile({ url: `${base}/file.bin`, dest, size: CONTENT.length + 1 }));
    expect(e.code).toBe('E_DOWNLOAD');
    expect(e.message).toContain(`expected ${CONTENT.length + 1} bytes, got ${CONTENT.length}`);
    expect(existsSync(dest)).toBe(false);
  });

  it('gives E_DOWNLOAD for HTTP 404 without retrying', async () => {
    const e = await rejection(
      downloadFile({ url: `${base}/missing.bin`, dest: join(tmp(), 'w.bin'), retryDelayMs: 10 }),
    );
    expect(e.code).toBe('E_DOWNLOAD');
    expect(e.message).toContain('HTTP 404');
    expect(seen.length).toBe(1);
  });

  it('follows redirects', async () => {
    const dest = join(tmp(), 'w.bin');
    await downloadFile({ url: `${base}/redirect`, dest, sha256: SHA });
    expect(seen.map((s) => s.path)).toEqual(['/redirect', '/file.bin']);
    expect(readFileSync(dest).equals(CONTENT)).toBe(true);
  });

  it('skips the request when dest already has the right checksum, and replaces a wrong dest', async () => {
    const dest = join(tmp(), 'w.bin');
    writeFileSync(dest, CONTENT);
    const r = await downloadFile({ url: `${base}/file.bin`, dest, sha256: SHA });
    expect(r.sha256).toBe(SHA);
    expect(seen.length).toBe(0);
    writeFileSync(dest, 'stale');
    await downloadFile({ url: `${base}/file.bin`, dest, sha256: SHA });
    expect(seen.length).toBe(1);
    expect(readFileSync(dest).equals(CONTENT)).toBe(true);
  });

  it('times out a stalled transfer and fails after the retries', async () => {
    const dest = join(tmp(), 'w.bin');
    const e = await rejection(
      downloadFile({ url: `${base}/stall.bin`, dest, timeoutMs: 200, retries: 1, retryDelayMs: 10 }),
    );
    expect(e.code).toBe('E_DOWNLOAD');
    expect(e.message).toContain('no data for 200 ms');
  });

  it('stops with E_INTERRUPTED when aborted', async () => {
    const controller = new AbortController();
    const dest = join(tmp(), 'w.bin');
    setTimeout(() => controller.abort(), 100);
    const e = await rejection(downloadFile({ url: `${base}/stall.bin`, dest, signal: controller.signal }));
    expect(e.code).toBe('E_INTERRUPTED');
  });

  it('refuses bad arguments', async () => {
    expect((await rejection(downloadFile({ url: 'ftp://x/y', dest: join(tmp(), 'w') }))).code).toBe('E_ARG');
    expect(
      (await rejection(downloadFile({ url: `${base}/file.bin`, dest: join(tmp(), 'w'), sha256: 'abc' })))
        .code,
    ).toBe('E_ARG');
  });

  it('stops at once with the error of a throwing onProgress (no retry)', async () => {
    const dest = join(tmp(), 'w.bin');
    const boom = new Error('progress bar crashed');
    await expect(
      downloadFile({
        url: `${base}/file.bin`,
        dest,
        retryDelayMs: 10,
        onProgress: () => {
          throw boom;
        },
      }),
    ).rejects.toBe(boom);
    expect(seen.length).toBe(1);
  });

  it('retries a refused connection, then gives E_DOWNLOAD', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const e = await rejection(
      downloadFile({
        url: `http://127.0.0.1:${port}/x`,
        dest: join(tmp(), 'w.bin'),
        retries: 2,
        retryDelayMs: 10,
      }),
    );
    expect(e.code).toBe('E_DOWNLOAD');
    expect(e.message).toContain('failed after 3 attempts');
    expect(e.message).toContain('ECONNREFUSED');
  });

  it('refuses a directory as dest', async () => {
    const e = await rejection(downloadFile({ url: `${base}/file.bin`, dest: tmp() }));
    expect(e.code).toBe('E_ARG');
  });

  it('records the ETag next to the .part and resumes with If-Range', async () => {
    const dest = join(tmp(), 'w.bin');
    dropsLeft = 0;
    writeFileSync(`${dest}.part`, CONTENT.subarray(0, 70_000));
    writeFileSync(`${dest}.part.json`, JSON.stringify({ url: `${base}/etag.bin`, validator: '"v2"' }));
    const r = await downloadFile({ url: `${base}/etag.bin`, dest });
    expect(r.resumed).toBe(true);
    expect(seen).toEqual([{ path: '/etag.bin', range: 'bytes=70000-' }]);
    expect(readFileSync(dest).equals(CONTENT)).toBe(true);
    expect(existsSync(`${dest}.part.json`)).toBe(false);
  });

  it('restarts (no splicing) when the file changed on the server since the .part was written', async () => {
    const dest = join(tmp(), 'w.bin');
    writeFileSync(`${dest}.part`, randomBytes(70_000)); // bytes of an older version
    writeFileSync(`${dest}.part.json`, JSON.stringify({ url: `${base}/etag.bin`, validator: '"v1"' }));
    const r = await downloadFile({ url: `${base}/etag.bin`, dest }); // no checksum to catch it later
    expect(r.resumed).toBe(false);
    expect(readFileSync(dest).equals(CONTENT)).toBe(true);
  });

  it('restarts when the .part came from another URL', async () => {
    const dest = join(tmp(), 'w.bin');
    writeFileSync(`${dest}.part`, randomBytes(70_000));
    writeFileSync(`${dest}.part.json`, JSON.stringify({ url: `${base}/other.bin` }));
    await downloadFile({ url: `${base}/file.bin`, dest });
    expect(seen).toEqual([{ path: '/file.bin', range: undefined }]);
    expect(readFileSync(dest).equals(CONTENT)).toBe(true);
  });

  it('writes the validator of a fresh download for a later resume', async () => {
    dropsLeft = 1;
    const dest = join(tmp(), 'w.bin');
    await rejection(downloadFile({ url: `${base}/drop.bin`, dest, retries: 0 }));
    expect(JSON.parse(readFileSync(`${dest}.part.json`, 'utf8'))).toEqual({ url: `${base}/drop.bin` });
    const dest2 = join(tmp(), 'w.bin');
    await downloadFile({
      url: `${base}/etag.bin`,
      dest: dest2,
      onProgress: () => {
        if (existsSync(`${dest2}.part.json`)) metaSeen = readFileSync(`${dest2}.part.json`, 'utf8');
      },
    });
    expect(JSON.parse(metaSeen)).toEqual({ url: `${base}/etag.bin`, validator: '"v2"' });
  });
});

let metaSeen = '';
