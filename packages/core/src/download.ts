import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { dirname } from 'node:path';
import { HpError } from './errors.js';
import { writeFileAtomic } from './fs.js';

export interface DownloadProgress {
  /** Bytes in the `.part` file so far (including bytes of an earlier, resumed attempt). */
  received: number;
  /** Expected total bytes, when the server or the caller said. */
  total: number | undefined;
  /** Bytes per second over this call. */
  rate: number;
}

export interface DownloadOptions {
  url: string;
  /** Final path; data goes to `<dest>.part` and is renamed when complete and verified. */
  dest: string;
  /** Expected SHA-256 (hex). Checked after download; also decides whether an existing `dest` is kept. */
  sha256?: string;
  /** Expected size in bytes. */
  size?: number;
  /** Called at most every 100 ms and once at the end. */
  onProgress?: (p: DownloadProgress) => void;
  /** Extra attempts after a dropped connection, timeout or 5xx answer (resuming each time). Default 3. */
  retries?: number;
  signal?: AbortSignal;
  /** Socket inactivity limit per attempt (ms). Default 30 000. */
  timeoutMs?: number;
  /** Pause between attempts (ms), multiplied by the attempt number. Default 500. */
  retryDelayMs?: number;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  sha256: string;
  /** True when an existing `.part` file was continued with a `Range` request. */
  resumed: boolean;
}

const FN = 'downloadFile';
const MAX_REDIRECTS = 10;

/** An attempt failure worth retrying (dropped connection, timeout, 5xx). */
class RetryableError extends Error {}

/**
 * Sidecar `<dest>.part.json`: which URL the `.part` came from and its validator (strong ETag or
 * Last-Modified), sent as `If-Range` on resume so a file changed on the server restarts from zero
 * instead of being spliced onto old bytes.
 */
interface PartMeta {
  url: string;
  validator?: string;
}

const metaPathOf = (part: string): string => `${part}.json`;

async function readMeta(part: string): Promise<PartMeta | undefined> {
  try {
    const meta = JSON.parse(await readFile(metaPathOf(part), 'utf8')) as PartMeta;
    return typeof meta?.url === 'string' ? meta : undefined;
  } catch {
    return undefined;
  }
}

async function removePart(part: string): Promise<void> {
  await io(`delete ${part}`, async () => {
    await rm(part, { force: true });
    await rm(metaPathOf(part), { force: true });
  });
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}

/** SHA-256 (hex) of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function openResponse(
  url: URL,
  headers: Record<string, string>,
  options: DownloadOptions,
  redirects = 0,
): Promise<{ res: IncomingMessage; url: URL; timedOut: () => boolean }> {
  return new Promise((resolve, reject) => {
    const client = url.protocol === 'https:' ? https : http;
    let timedOut = false;
    const req = client.get(url, { headers, signal: options.signal }, (res) => {
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (status >= 300 && status < 400 && location !== undefined) {
        res.resume();
        if (redirects >= MAX_REDIRECTS) {
          reject(
            new HpError(
              'E_DOWNLOAD',
              `${FN}: too many redirects: expected at most ${MAX_REDIRECTS}, got more (last ${url.href})`,
            ),
          );
          return;
        }
        openResponse(new URL(location, url), headers, options, redirects + 1).then(resolve, reject);
        return;
      }
      resolve({ res, url, timedOut: () => timedOut });
    });
    req.setTimeout(options.timeoutMs ?? 30_000, () => {
      timedOut = true;
      req.destroy(new RetryableError(`no data for ${options.timeoutMs ?? 30_000} ms`));
    });
    req.on('error', (error) => {
      // network failures (refused, reset, DNS, timeout) are worth another attempt; an abort is not
      reject(
        options.signal?.aborted || error instanceof RetryableError
          ? error
          : new RetryableError(error.message),
      );
    });
  });
}

/** Runs a file-system step, turning its failure into `E_IO`. */
async function io<T>(what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    throw new HpError(
      'E_IO',
      `${FN}: cannot ${what}: expected a writable location, got ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

/** Parses `Content-Range: bytes a-b/total` (or `bytes * /total`). */
function parseContentRange(value: string | undefined): { start?: number; total?: number } {
  const m = /^bytes\s+(?:(\d+)-\d+|\*)\/(\d+|\*)$/i.exec(value?.trim() ?? '');
  if (m === null) return {};
  return {
    ...(m[1] === undefined ? {} : { start: Number(m[1]) }),
    ...(m[2] === '*' || m[2] === undefined ? {} : { total: Number(m[2]) }),
  };
}

interface AttemptResult {
  /** True when the `.part` file holds the whole resource. */
  complete: boolean;
  resumed: boolean;
}

/** One HTTP request: continues `.part` from its current size (or restarts it) and streams the body into it. */
async function attempt(
  options: DownloadOptions,
  part: string,
  report: (n: number, total?: number) => void,
): Promise<AttemptResult> {
  let start = (await fileSize(part)) ?? 0;
  const meta = start > 0 ? await readMeta(part) : undefined;
  if (
    (options.size !== undefined && start > options.size) ||
    (meta !== undefined && meta.url !== options.url)
  ) {
    await removePart(part);
    start = 0;
  }
  if (options.size !== undefined && start === options.size && start > 0)
    return { complete: true, resumed: true };
  const headers: Record<string, string> = { 'user-agent': 'hpseg' };
  if (start > 0) headers.range = `bytes=${start}-`;
  if (start > 0 && meta?.validator !== undefined) headers['if-range'] = meta.validator;
  const { res, url, timedOut } = await openResponse(new URL(options.url), headers, options);
  const status = res.statusCode ?? 0;
  const contentLength =
    res.headers['content-length'] === undefined ? undefined : Number(res.headers['content-length']);
  const range = parseContentRange(res.headers['content-range']);
  if (status === 416 && start > 0) {
    res.resume();
    if (range.total === start) return { complete: true, resumed: true };
    await removePart(part); // the partial file does not belong to this resource
    throw new RetryableError(`server refused the range bytes=${start}- (416)`);
  }
  if (status >= 500) {
    res.resume();
    throw new RetryableError(`HTTP ${status} from ${url.href}`);
  }
  if (status !== 200 && status !== 206) {
    res.resume();
    throw new HpError(
      'E_DOWNLOAD',
      `${FN}: ${url.href} answered HTTP ${status}: expected 200 or 206, got ${status} ${res.statusMessage ?? ''}`.trim(),
      {
        details: { url: url.href, status },
      },
    );
  }
  if (status === 206 && range.start !== start) {
    res.resume();
    await removePart(part);
    throw new RetryableError(
      `server answered a different range (${res.headers['content-range']}) to bytes=${start}-`,
    );
  }
  const offset = status === 206 ? start : 0; // 200 to a Range request: the server ignored it, start over
  const resumed = offset > 0;
  const total = status === 206 ? (range.total ?? options.size) : (contentLength ?? options.size);
  const expectedBody = contentLength;
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    if (offset === 0) {
      const etag = res.headers.etag;
      const validator = etag !== undefined && !etag.startsWith('W/') ? etag : res.headers['last-modified'];
      const fresh: PartMeta =
        validator === undefined ? { url: options.url } : { url: options.url, validator };
      await writeFileAtomic(metaPathOf(part), JSON.stringify(fresh));
    }
    handle = await io(`open ${part}`, () => open(part, offset > 0 ? 'a' : 'w'));
  } catch (error) {
    res.destroy();
    throw error;
  }
  let received = 0;
  try {
    report(offset, total);
    const chunks = res[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await chunks.next();
      } catch (error) {
        if (options.signal?.aborted) throw error;
        const why = timedOut() ? `no data for ${options.timeoutMs ?? 30_000} ms` : (error as Error).message;
        throw new RetryableError(`connection dropped after ${offset + received} bytes (${why})`);
      }
      if (next.done) break;
      const buf = next.value;
      await io(`write ${part}`, () => handle.write(buf));
      received += buf.length;
      report(offset + received, total); // a throwing onProgress stops the download with its own error
    }
    await io(`write ${part}`, () => handle.sync());
  } finally {
    res.destroy();
    await handle.close();
  }
  if (expectedBody !== undefined && received < expectedBody) {
    throw new RetryableError(
      `connection dropped after ${offset + received} of ${offset + expectedBody} bytes`,
    );
  }
  return { complete: true, resumed };
}

/**
 * Downloads `url` to `dest` over HTTP(S): follows redirects, streams to `<dest>.part`, resumes a
 * partial `.part` with a `Range` request (restarting when the server answers 200), retries dropped
 * connections, verifies size and SHA-256 when given, then renames atomically. An existing `dest`
 * with the right checksum (or size, when no checksum is given) is kept without a request.
 * Failures → `E_DOWNLOAD` (the `.part` of a checksum mismatch is deleted); abort → `E_INTERRUPTED`.
 */
export async function downloadFile(options: DownloadOptions): Promise<DownloadResult> {
  const { dest } = options;
  let parsed: URL;
  try {
    parsed = new URL(options.url);
  } catch {
    throw new HpError('E_ARG', `${FN}: bad url: expected an http(s) URL, got ${JSON.stringify(options.url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new HpError(
      'E_ARG',
      `${FN}: unsupported protocol: expected http: or https:, got ${parsed.protocol}`,
    );
  }
  const expectedSha = options.sha256?.toLowerCase();
  if (expectedSha !== undefined && !/^[0-9a-f]{64}$/.test(expectedSha)) {
    throw new HpError(
      'E_ARG',
      `${FN}: bad sha256: expected 64 hex digits, got ${JSON.stringify(options.sha256)}`,
    );
  }
  const destStat = await stat(dest).catch(() => undefined);
  if (destStat?.isDirectory()) {
    throw new HpError('E_ARG', `${FN}: dest is a directory: expected a file path, got ${dest}`);
  }
  const existing = destStat?.size;
  if (existing !== undefined) {
    const sha = await sha256File(dest);
    const ok =
      expectedSha !== undefined
        ? sha === expectedSha
        : options.size === undefined || existing === options.size;
    if (ok) return { path: dest, bytes: existing, sha256: sha, resumed: false };
  }

  await mkdir(dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  const t0 = Date.now();
  let sessionStart: number | undefined;
  let lastReport = 0;
  let lastBytes = 0;
  let lastTotal: number | undefined;
  const report = (received: number, total?: number): void => {
    sessionStart ??= received;
    lastBytes = received;
    lastTotal = total;
    const now = Date.now();
    if (options.onProgress && now - lastReport >= 100) {
      lastReport = now;
      const seconds = Math.max((now - t0) / 1000, 1e-3);
      options.onProgress({ received, total, rate: (received - sessionStart) / seconds });
    }
  };

  const retries = options.retries ?? 3;
  let resumed = false;
  let lastError: unknown;
  for (let k = 0; ; k++) {
    if (options.signal?.aborted) {
      throw new HpError(
        'E_INTERRUPTED',
        `${FN}: download of ${options.url} was aborted: expected completion, got an abort signal. Run again to resume from ${part}`,
      );
    }
    try {
      const r = await attempt(options, part, report);
      resumed ||= r.resumed;
      break;
    } catch (error) {
      if (options.signal?.aborted) {
        throw new HpError(
          'E_INTERRUPTED',
          `${FN}: download of ${options.url} was aborted: expected completion, got an abort signal. Run again to resume from ${part}`,
          { cause: error },
        );
      }
      if (!(error instanceof RetryableError)) throw error; // HpError (4xx, E_IO) or a throwing onProgress
      lastError = error;
      if (k >= retries) {
        throw new HpError(
          'E_DOWNLOAD',
          `${FN}: download of ${options.url} failed after ${k + 1} attempts: expected a complete transfer, got ${(error as Error).message}. Run again to resume from ${part}`,
          { cause: lastError, details: { url: options.url } },
        );
      }
      await new Promise((r) => setTimeout(r, (options.retryDelayMs ?? 500) * (k + 1)));
    }
  }

  const bytes = (await fileSize(part)) ?? 0;
  if (options.onProgress) {
    const seconds = Math.max((Date.now() - t0) / 1000, 1e-3);
    options.onProgress({
      received: lastBytes || bytes,
      total: lastTotal ?? bytes,
      rate: (bytes - (sessionStart ?? 0)) / seconds,
    });
  }
  const mismatch = async (what: string, expected: string, got: string): Promise<never> => {
    await removePart(part);
    throw new HpError(
      'E_DOWNLOAD',
      `${FN}: ${what} of ${options.url} does not match: expected ${expected}, got ${got}. The partial file was deleted; check the URL or the expected value`,
      {
        details: { url: options.url, expected, got },
      },
    );
  };
  if (options.size !== undefined && bytes !== options.size)
    await mismatch('size', `${options.size} bytes`, `${bytes}`);
  const sha = await sha256File(part);
  if (expectedSha !== undefined && sha !== expectedSha) await mismatch('SHA-256', expectedSha, sha);
  try {
    await rename(part, dest);
    await rm(metaPathOf(part), { force: true });
  } catch (error) {
    throw new HpError(
      'E_IO',
      `${FN}: cannot move ${part} to ${dest}: expected a writable location, got ${(error as Error).message}`,
      { cause: error },
    );
  }
  return { path: dest, bytes, sha256: sha, resumed };
}
