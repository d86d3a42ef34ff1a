import { inflateSync } from 'fflate';
import { HpError } from '../errors.js';
import { crc32 } from './crc32.js';

/** One file of a zip archive, as listed by its central directory. */
export interface ZipEntry {
  readonly name: string;
  /** 0 = stored, 8 = deflate. */
  readonly method: number;
  readonly crc32: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly localHeaderOffset: number;
}

export interface ZipArchive {
  /** Entries by name, in central-directory order. */
  readonly entries: ReadonlyMap<string, ZipEntry>;
  /** The uncompressed bytes of one entry (stored entries are a view into the archive, not a copy). */
  read(name: string): Uint8Array;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;

function formatError(fn: string, what: string, expected: string, got: string, hint?: string): HpError {
  return new HpError(
    'E_FORMAT',
    `${fn}: ${what}: expected ${expected}, got ${got}${hint ? `. ${hint}` : ''}`,
  );
}

/** Bounds-checked little-endian reads over the archive. */
class Bytes {
  readonly view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly fn: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  check(offset: number, length: number, what: string): void {
    if (offset < 0 || length < 0 || offset + length > this.bytes.length) {
      throw formatError(
        this.fn,
        `zip archive is truncated or corrupt (${what})`,
        `${length} bytes at offset ${offset}`,
        `a file of ${this.bytes.length} bytes`,
      );
    }
  }
  u16(offset: number, what: string): number {
    this.check(offset, 2, what);
    return this.view.getUint16(offset, true);
  }
  u32(offset: number, what: string): number {
    this.check(offset, 4, what);
    return this.view.getUint32(offset, true);
  }
  u64(offset: number, what: string): number {
    this.check(offset, 8, what);
    const lo = this.view.getUint32(offset, true);
    const hi = this.view.getUint32(offset + 4, true);
    if (hi >= 0x200000) throw formatError(this.fn, `zip ${what} is too large`, 'a value below 2^53', 'more');
    return hi * 2 ** 32 + lo;
  }
}

function findEndOfCentralDirectory(b: Bytes): number {
  const n = b.bytes.length;
  const stop = Math.max(0, n - EOCD_SIZE - MAX_COMMENT);
  for (let i = n - EOCD_SIZE; i >= stop; i--) {
    if (b.view.getUint32(i, true) === SIG_EOCD) return i;
  }
  throw formatError(
    b.fn,
    'no zip end-of-central-directory record',
    'a complete zip archive',
    `${n} bytes without one (truncated or not a zip file)`,
  );
}

interface Directory {
  count: number;
  offset: number;
  size: number;
}

function readDirectoryLocation(b: Bytes, eocd: number): Directory {
  let count = b.u16(eocd + 10, 'entry count');
  let size = b.u32(eocd + 12, 'directory size');
  let offset = b.u32(eocd + 16, 'directory offset');
  const locator = eocd - 20;
  if (locator >= 0 && b.view.getUint32(locator, true) === SIG_ZIP64_LOCATOR) {
    const z = b.u64(locator + 8, 'zip64 record offset');
    if (b.u32(z, 'zip64 record') !== SIG_ZIP64_EOCD) {
      throw formatError(b.fn, 'bad zip64 end-of-central-directory record', 'its signature', 'other bytes');
    }
    count = b.u64(z + 32, 'zip64 entry count');
    size = b.u64(z + 40, 'zip64 directory size');
    offset = b.u64(z + 48, 'zip64 directory offset');
  }
  b.check(offset, size, 'central directory');
  return { count, offset, size };
}

/** Reads the zip64 extended-information extra field where 32-bit fields hold 0xFFFFFFFF. */
function applyZip64Extra(
  b: Bytes,
  extraStart: number,
  extraLength: number,
  fields: { uncompressedSize: number; compressedSize: number; localHeaderOffset: number },
): void {
  let p = extraStart;
  const end = extraStart + extraLength;
  while (p + 4 <= end) {
    const id = b.u16(p, 'extra field id');
    const len = b.u16(p + 2, 'extra field length');
    if (id === 0x0001) {
      let q = p + 4;
      if (fields.uncompressedSize === 0xffffffff) {
        fields.uncompressedSize = b.u64(q, 'zip64 size');
        q += 8;
      }
      if (fields.compressedSize === 0xffffffff) {
        fields.compressedSize = b.u64(q, 'zip64 size');
        q += 8;
      }
      if (fields.localHeaderOffset === 0xffffffff) fields.localHeaderOffset = b.u64(q, 'zip64 offset');
      return;
    }
    p += 4 + len;
  }
}

/**
 * Opens a zip archive held in memory: reads the central directory (zip64 aware); entries are
 * decoded on `read` (stored or deflate), with their size and CRC-32 checked.
 */
export function readZip(bytes: Uint8Array, fn = 'readZip'): ZipArchive {
  const b = new Bytes(bytes, fn);
  const eocd = findEndOfCentralDirectory(b);
  const dir = readDirectoryLocation(b, eocd);
  const entries = new Map<string, ZipEntry>();
  const decoder = new TextDecoder('utf-8', { fatal: false });
  let p = dir.offset;
  for (let i = 0; i < dir.count; i++) {
    if (b.u32(p, 'central directory entry') !== SIG_CENTRAL) {
      throw formatError(fn, `bad zip central directory entry ${i}`, 'its signature', 'other bytes');
    }
    const method = b.u16(p + 10, 'method');
    const crc = b.u32(p + 16, 'crc');
    const fields = {
      compressedSize: b.u32(p + 20, 'size'),
      uncompressedSize: b.u32(p + 24, 'size'),
      localHeaderOffset: b.u32(p + 42, 'offset'),
    };
    const nameLength = b.u16(p + 28, 'name length');
    const extraLength = b.u16(p + 30, 'extra length');
    const commentLength = b.u16(p + 32, 'comment length');
    b.check(p + 46, nameLength + extraLength + commentLength, 'central directory entry');
    const name = decoder.decode(bytes.subarray(p + 46, p + 46 + nameLength));
    applyZip64Extra(b, p + 46 + nameLength, extraLength, fields);
    entries.set(name, { name, method, crc32: crc, ...fields });
    p += 46 + nameLength + extraLength + commentLength;
  }

  const read = (name: string): Uint8Array => {
    const entry = entries.get(name);
    if (entry === undefined) {
      throw new HpError('E_FORMAT', `${fn}: zip archive has no entry ${JSON.stringify(name)}`, {
        details: { entry: name },
      });
    }
    const h = entry.localHeaderOffset;
    if (b.u32(h, 'local header') !== SIG_LOCAL) {
      throw formatError(fn, `bad zip local header of ${name}`, 'its signature', 'other bytes');
    }
    const start = h + 30 + b.u16(h + 26, 'name length') + b.u16(h + 28, 'extra length');
    b.check(start, entry.compressedSize, `data of ${name}`);
    const raw = bytes.subarray(start, start + entry.compressedSize);
    let data: Uint8Array;
    if (entry.method === 0) data = raw;
    else if (entry.method === 8) {
      // Deflate expands at most ~1032:1; a larger claimed size is hostile (would allocate gigabytes).
      if (entry.uncompressedSize > entry.compressedSize * 1032 + 1024) {
        throw formatError(
          fn,
          `zip entry ${name} claims an impossible size`,
          'at most 1032x its compressed size',
          `${entry.uncompressedSize} from ${entry.compressedSize} bytes`,
        );
      }
      try {
        data = inflateSync(raw, { out: new Uint8Array(entry.uncompressedSize) });
      } catch (error) {
        throw formatError(fn, `cannot inflate ${name}`, 'valid deflate data', (error as Error).message);
      }
    } else {
      throw formatError(
        fn,
        `unsupported zip compression of ${name}`,
        'method 0 (stored) or 8 (deflate)',
        `${entry.method}`,
      );
    }
    if (data.length !== entry.uncompressedSize) {
      throw formatError(
        fn,
        `zip entry ${name} has the wrong size`,
        `${entry.uncompressedSize} bytes`,
        `${data.length}`,
      );
    }
    const got = crc32(data);
    if (got !== entry.crc32) {
      throw formatError(
        fn,
        `zip entry ${name} is corrupt (CRC-32 mismatch)`,
        `0x${entry.crc32.toString(16)}`,
        `0x${got.toString(16)}`,
      );
    }
    return data;
  };
  return { entries, read };
}
