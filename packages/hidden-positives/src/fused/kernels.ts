import { KERNELS_WASM_BASE64 } from './kernels-wasm.js';

/**
 * The exports of `kernels.wat` (see its header for the conventions). Pointers and row offsets are byte
 * addresses in the shared memory; `len` is the zero-padded row length in bytes (a multiple of 64).
 */
export interface Kernels {
  criterion(
    x: number,
    stride: number,
    i0: number,
    i1: number,
    pool: number,
    q: number,
    len: number,
    out: number,
  ): void;
  join(
    x: number,
    stride: number,
    i0: number,
    i1: number,
    j0: number,
    j1: number,
    c: number,
    bits: number,
    rowBytes: number,
    len: number,
  ): void;
  criterionQuantized(
    xq: number,
    pq: number,
    qStride: number,
    x: number,
    pool: number,
    stride: number,
    len: number,
    i0: number,
    i1: number,
    q: number,
    out: number,
    approx: number,
    eps: number,
  ): void;
  joinQuantized(
    xq: number,
    qStride: number,
    qLen: number,
    x: number,
    stride: number,
    len: number,
    i0: number,
    i1: number,
    j0: number,
    j1: number,
    c: number,
    bits: number,
    rowBytes: number,
    eps: number,
  ): void;
  dotsIndexed(
    x: number,
    ia: number,
    na: number,
    ib: number,
    m: number,
    len: number,
    out: number,
    scale: number,
  ): void;
  dotsRow(x: number, a: number, ib: number, m: number, len: number, out: number, scale: number): void;
  gradRows(
    x: number,
    ia: number,
    na: number,
    ib: number,
    m: number,
    len: number,
    g: number,
    acc: number,
    gRow: number,
  ): void;
  gradCols(
    x: number,
    ia: number,
    na: number,
    ib: number,
    m: number,
    len: number,
    g: number,
    acc: number,
  ): void;
  gradRow(x: number, a: number, ib: number, m: number, len: number, g: number, acc: number): void;
  quantizeRows(
    src: number,
    stride: number,
    dst: number,
    i0: number,
    i1: number,
    len: number,
    l1: number,
    sq: number,
  ): void;
  threshold(
    sims: number,
    width: number,
    i0: number,
    r0: number,
    r1: number,
    n: number,
    c: number,
    bits: number,
    rowBytes: number,
  ): void;
  rowMax(sims: number, q: number, r0: number, r1: number, out: number): void;
  popcountRows(bits: number, rowBytes: number, i0: number, i1: number, out: number): void;
  addInto(dst: number, src: number, bytes: number): void;
  scaleAddRow(out: number, x: number, w: number, bytes: number, first: number): void;
}

/** Rows are padded to a multiple of this many bytes (16 floats), as the kernels require. */
export const ROW_ALIGN = 64;
/** The shared memory's limit in 64 KiB pages (4 GiB, all a 32-bit memory can address). */
export const MAX_PAGES = 65536;

/**
 * The slice of the WebAssembly JS API used here (the repository's `lib` has no DOM types, and Node's
 * types declare only part of the namespace).
 */
export interface WasmModule {
  readonly [Symbol.toStringTag]?: string;
}
export interface WasmMemory {
  readonly buffer: ArrayBufferLike;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { readonly exports: object };
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
}
const wasm = (): WasmApi => (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let compiled: WasmModule | undefined;

/** The kernels' compiled module (compiled once per thread, synchronously). */
export function kernelsModule(): WasmModule {
  if (compiled === undefined) {
    const text = atob(KERNELS_WASM_BASE64);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i += 1) bytes[i] = text.charCodeAt(i);
    compiled = new (wasm().Module)(bytes);
  }
  return compiled;
}

/** A memory that every thread of a pool imports (grown by the driving thread between tasks only). */
export function createSharedMemory(): WasmMemory {
  return new (wasm().Memory)({ initial: 1, maximum: MAX_PAGES, shared: true });
}

export function instantiateKernels(module: WasmModule, memory: WasmMemory): Kernels {
  return new (wasm().Instance)(module, { env: { memory } }).exports as Kernels;
}
