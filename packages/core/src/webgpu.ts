import * as tf from '@tensorflow/tfjs-core';
import { HpError } from './errors.js';
import { gpuLibraryReport } from './gpu-libraries.js';
import { importOptional, isModuleMissing } from './optional-import.js';

/*
 * WebGPU for TF.js, set up in one place. In Node the `webgpu` package (Dawn's Node bindings) makes
 * `navigator.gpu`; in a browser it already exists. Facts this file is built on (measured with
 * webgpu 0.6.2 and @tensorflow/tfjs-backend-webgpu 4.22; packages/core/README.md, "WebGPU"):
 * - tfjs-backend-webgpu registers its backend at import only when `navigator.gpu` exists, and its
 *   factory asks for a `high-performance` adapter without `featureLevel`, so it never gets the
 *   compatibility-only adapters of software OpenGL. We register our own factory with the adapter
 *   chosen here (the package's `WebGPUBackend` class and kernels are used as they are).
 * - A device requested without raised limits silently computes zeros (tfjs' matmul shaders use
 *   workgroups of 256 > the default 128 limit, a validation error Dawn only logs). We request the
 *   limits tfjs' own factory requests and record every uncaptured GPU error.
 * - Dawn's default backend on Linux is Vulkan. Mesa 22's lavapipe is rejected by Dawn
 *   ("shaderUniform*ArrayDynamicIndexing required"); Mesa's llvmpipe OpenGL (backend=opengl or
 *   opengles, EGL_PLATFORM=surfaceless) gives a compatibility adapter, and Dawn dlopens the
 *   unversioned `libEGL.so`.
 * - `dataSync()` needs `OffscreenCanvas` in this backend, which Node lacks: only async reads work.
 */

/** The parts of WebGPU's JS API used here (structural, so no global WebGPU types are needed). */
export interface GpuAdapterInfoLike {
  readonly vendor?: string;
  readonly architecture?: string;
  readonly device?: string;
  readonly description?: string;
  readonly isFallbackAdapter?: boolean;
}
export interface GpuDeviceLike {
  readonly lost?: Promise<{ readonly reason?: string; readonly message?: string }>;
  addEventListener?(
    type: 'uncapturederror',
    listener: (event: { error?: { message?: string } }) => void,
  ): void;
  destroy?(): void;
}
export interface GpuAdapterLike {
  readonly info?: GpuAdapterInfoLike;
  readonly features: { has(name: string): boolean };
  readonly limits: Readonly<Record<string, number>>;
  readonly isFallbackAdapter?: boolean;
  requestDevice(descriptor?: object): Promise<GpuDeviceLike>;
}
export interface GpuLike {
  requestAdapter(options?: object): Promise<GpuAdapterLike | null>;
}

export interface WebGpuOptions {
  /**
   * A `navigator.gpu`-like object to use instead of the one found or created here (another Dawn
   * build, a test double). In a browser `navigator.gpu` is used when this is not given.
   */
  readonly gpu?: GpuLike;
  /**
   * Node only: Dawn backends to try, in order. `default` is the platform's own (Vulkan on Linux,
   * Metal on macOS, D3D12 on Windows); `opengl` and `opengles` find Mesa's software adapter on a
   * machine without a GPU. Default `['default', 'opengl', 'opengles']`; the environment variable
   * `HPSEG_WEBGPU_BACKENDS` (comma-separated) overrides it.
   */
  readonly dawnBackends?: readonly string[];
  /** Node only: extra flags for Dawn's `create()` (e.g. `enable-dawn-features=...`). */
  readonly dawnFlags?: readonly string[];
  /**
   * Accept a software adapter (llvmpipe, SwiftShader, WARP) when no GPU is found. Default true
   * (tests and CI run on it); `describeBackend()` says when one is in use.
   */
  readonly allowSoftware?: boolean;
}

export type WebGpuFeatureLevel = 'core' | 'compatibility';

/** The adapter behind the `webgpu` backend, for run configs and logs (JSON-serialisable). */
export interface WebGpuAdapterDescription {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
  readonly featureLevel: WebGpuFeatureLevel;
  /** A CPU implementation (llvmpipe, lavapipe, SwiftShader, WARP): correct, but its timings say nothing about a GPU. */
  readonly software: boolean;
  /** The Dawn backend that gave the adapter (`default`, `opengl`, ...), null when `navigator.gpu` came from elsewhere. */
  readonly dawnBackend: string | null;
  readonly limits: {
    readonly maxBufferSize: number;
    readonly maxStorageBufferBindingSize: number;
    readonly maxComputeWorkgroupStorageSize: number;
    readonly maxComputeInvocationsPerWorkgroup: number;
  };
  /** Uncaptured GPU errors (validation, out-of-memory) since the device was created: their count and first messages. */
  readonly gpuErrorCount: number;
  readonly gpuErrors: readonly string[];
  /** Set when the device was lost (reason and message). */
  readonly deviceLost: string | null;
}

/** One adapter request made while looking for an adapter, for error messages and logs. */
export interface AdapterAttempt {
  readonly source: string;
  readonly request: string;
  readonly result: string;
}

interface AdapterSource {
  /** `navigator.gpu`, `options.gpu`, or `dawn backend=<name>`. */
  readonly label: string;
  readonly dawnBackend: string | null;
  readonly gpu: () => Promise<GpuLike>;
}

interface FoundAdapter {
  readonly gpu: GpuLike;
  readonly adapter: GpuAdapterLike;
  readonly source: AdapterSource;
  readonly featureLevel: WebGpuFeatureLevel;
  readonly software: boolean;
}

/** Adapter requests, most capable first: a GPU at the core feature level, then a compatibility adapter. */
const REQUESTS: readonly { readonly label: string; readonly options: object }[] = [
  { label: 'high-performance', options: { powerPreference: 'high-performance' } },
  {
    label: 'high-performance, featureLevel compatibility',
    options: { powerPreference: 'high-performance', featureLevel: 'compatibility' },
  },
];

const SOFTWARE_NAMES = /llvmpipe|lavapipe|softpipe|swiftshader|swrast|microsoft basic render|software/i;

const DEFAULT_DAWN_BACKENDS = ['default', 'opengl', 'opengles'] as const;

const MAX_RECORDED_ERRORS = 10;

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/** True for CPU implementations of WebGPU (by the fallback flag or by their well-known names). */
export function isSoftwareAdapter(adapter: GpuAdapterLike): boolean {
  const info = adapter.info ?? {};
  if (adapter.isFallbackAdapter === true || info.isFallbackAdapter === true) return true;
  return [info.vendor, info.architecture, info.device, info.description].some(
    (s) => typeof s === 'string' && SOFTWARE_NAMES.test(s),
  );
}

function adapterName(adapter: GpuAdapterLike): string {
  const info = adapter.info ?? {};
  const parts = [info.vendor, info.architecture, info.device, info.description].filter(
    (s): s is string => typeof s === 'string' && s !== '',
  );
  return parts.length > 0 ? parts.join(' / ') : 'an adapter without info';
}

/**
 * Tries each source and request in order; returns the first hardware adapter, else (when allowed)
 * the first software one, with the list of what was tried.
 */
export async function findAdapter(
  sources: readonly AdapterSource[],
  allowSoftware: boolean,
): Promise<{ found: FoundAdapter | null; attempts: AdapterAttempt[] }> {
  const attempts: AdapterAttempt[] = [];
  let software: FoundAdapter | null = null;
  for (const source of sources) {
    let gpu: GpuLike;
    try {
      gpu = await source.gpu();
    } catch (error) {
      attempts.push({ source: source.label, request: 'create', result: `threw ${errorText(error)}` });
      continue;
    }
    for (const request of REQUESTS) {
      let adapter: GpuAdapterLike | null;
      try {
        adapter = await gpu.requestAdapter(request.options);
      } catch (error) {
        attempts.push({ source: source.label, request: request.label, result: `threw ${errorText(error)}` });
        continue;
      }
      if (adapter === null || adapter === undefined) {
        attempts.push({ source: source.label, request: request.label, result: 'no adapter' });
        continue;
      }
      const isSoftware = isSoftwareAdapter(adapter);
      attempts.push({
        source: source.label,
        request: request.label,
        result: `${adapterName(adapter)}${isSoftware ? ' (software)' : ''}`,
      });
      const compatibilityRequest = 'featureLevel' in request.options;
      const featureLevel: WebGpuFeatureLevel =
        adapter.features.has('core-features-and-limits') || !compatibilityRequest ? 'core' : 'compatibility';
      const found: FoundAdapter = { gpu, adapter, source, featureLevel, software: isSoftware };
      if (!isSoftware) return { found, attempts };
      software ??= found;
      break; // this source gave a software adapter; look for a GPU in the next one
    }
  }
  return { found: allowSoftware ? software : null, attempts };
}

function errorText(error: unknown): string {
  return String((error as Error)?.message ?? error)
    .split('\n')[0]!
    .slice(0, 200);
}

interface DawnModule {
  create(flags: string[]): GpuLike;
  globals: Record<string, unknown>;
}

let dawnModule: Promise<DawnModule> | null = null;

/** Imports the `webgpu` package (optional peer); `E_BACKEND` with the install command when missing. */
async function loadDawn(): Promise<DawnModule> {
  dawnModule ??= importOptional('webgpu').then(
    (m) => m as DawnModule,
    (error) => {
      dawnModule = null;
      const missing = isModuleMissing(error, 'webgpu');
      throw new HpError(
        'E_BACKEND',
        missing
          ? "selectBackend: backend 'webgpu' needs navigator.gpu: expected the package webgpu (Dawn's Node bindings) in Node, got none. Install it with `npm install webgpu @tensorflow/tfjs-backend-webgpu`"
          : `selectBackend: backend 'webgpu': the package webgpu failed to load: expected Dawn's prebuilt binary for ${process.platform}-${process.arch}, got ${errorText(error)}`,
        {
          cause: error,
          hint: 'npm install webgpu @tensorflow/tfjs-backend-webgpu',
          details: { packageName: 'webgpu' },
        },
      );
    },
  );
  return dawnModule;
}

function existingNavigatorGpu(): GpuLike | null {
  const nav = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator;
  return nav?.gpu ?? null;
}

function dawnBackendList(options: WebGpuOptions): string[] {
  const fromEnv = isNode ? process.env.HPSEG_WEBGPU_BACKENDS : undefined;
  if (options.dawnBackends !== undefined) return [...options.dawnBackends];
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    return fromEnv
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }
  return [...DEFAULT_DAWN_BACKENDS];
}

/** The sources to try: a given `gpu`, else an existing `navigator.gpu` (browsers), else Dawn backends. */
function adapterSources(options: WebGpuOptions): AdapterSource[] {
  if (options.gpu !== undefined) {
    const gpu = options.gpu;
    return [{ label: 'options.gpu', dawnBackend: null, gpu: async () => gpu }];
  }
  const existing = existingNavigatorGpu();
  if (existing !== null && !isDawnInstalledByUs(existing)) {
    return [{ label: 'navigator.gpu', dawnBackend: null, gpu: async () => existing }];
  }
  return dawnBackendList(options).map((backend) => ({
    label: `dawn backend=${backend}`,
    dawnBackend: backend,
    gpu: async () => {
      const dawn = await loadDawn();
      if (backend === 'opengl' || backend === 'opengles') {
        // Mesa's EGL needs a platform on a machine without a display; surfaceless renders off-screen.
        // Set once, before Dawn opens EGL (it reads the variable then); an existing value is kept.
        process.env.EGL_PLATFORM ??= 'surfaceless';
      }
      const flags = [...(backend === 'default' ? [] : [`backend=${backend}`]), ...(options.dawnFlags ?? [])];
      return dawn.create(flags);
    },
  }));
}

const installedByUs = new WeakSet<object>();
function isDawnInstalledByUs(gpu: GpuLike): boolean {
  return installedByUs.has(gpu as object);
}

/** Makes `gpu` the `navigator.gpu` (Node 20 has no `navigator`; Node ≥ 21 has one without `gpu`). */
function installNavigatorGpu(gpu: GpuLike, globals: Record<string, unknown> | null): void {
  if (globals !== null) {
    // GPUBufferUsage, GPUMapMode, ... : constants tfjs-backend-webgpu reads as globals.
    for (const [name, value] of Object.entries(globals)) {
      if (!(name in globalThis)) {
        Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
      }
    }
  }
  const g = globalThis as { navigator?: object };
  if (g.navigator === undefined) {
    Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
  }
  Object.defineProperty(g.navigator!, 'gpu', { value: gpu, configurable: true, writable: true });
  installedByUs.add(gpu as object);
}

interface WebGpuState {
  readonly found: FoundAdapter;
  readonly attempts: readonly AdapterAttempt[];
  device: GpuDeviceLike | null;
  errorCount: number;
  readonly errors: string[];
  deviceLost: string | null;
  /** Why the backend factory failed (tf.setBackend only returns false). */
  initError: unknown;
  /** `checkWebGpuComputes` passed on this adapter. */
  verified: boolean;
}

let state: WebGpuState | null = null;
let pending: Promise<WebGpuState> | null = null;

/** The limits tfjs-backend-webgpu's own factory requests (its `base.ts`), read from the adapter. */
const REQUIRED_LIMITS = [
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupSizeX',
  'maxComputeInvocationsPerWorkgroup',
] as const;

type WebGpuBackendClass = new (device: GpuDeviceLike, adapterInfo?: GpuAdapterInfoLike) => tf.KernelBackend;

/**
 * The package's backend with one change: a synchronous read (`dataSync`, `arraySync`,
 * `bufferSync`) of a tensor that lives on the GPU fails in Node with `ReferenceError:
 * OffscreenCanvas is not defined`; here it fails with an `E_BACKEND` saying what to use instead.
 */
function withClearSyncReads(Base: WebGpuBackendClass): WebGpuBackendClass {
  return class HpWebGpuBackend extends Base {
    override readSync(dataId: object): tf.backend_util.BackendValues {
      try {
        return super.readSync(dataId);
      } catch (error) {
        if (!/OffscreenCanvas/.test(String((error as Error)?.message))) throw error;
        throw new HpError(
          'E_BACKEND',
          'webgpu backend: synchronous reads do not work here: expected an async read (`await t.data()`, `await t.array()`, `await t.buffer()`), got a synchronous read (dataSync, arraySync, bufferSync, or a tensor moved to another backend) of a tensor that lives on the GPU (tfjs-backend-webgpu reads synchronously through OffscreenCanvas, which Node lacks)',
          {
            cause: error,
            hint: 'replace dataSync()/arraySync()/bufferSync() with await data()/array()/buffer()',
          },
        );
      }
    }
  };
}

async function loadTfjsWebGpu(): Promise<WebGpuBackendClass> {
  const packageName = '@tensorflow/tfjs-backend-webgpu';
  try {
    const mod = (await importOptional(packageName)) as { WebGPUBackend?: WebGpuBackendClass };
    if (typeof mod.WebGPUBackend !== 'function') {
      throw new Error(`${packageName} exports no WebGPUBackend class`);
    }
    return withClearSyncReads(mod.WebGPUBackend);
  } catch (error) {
    const missing = isModuleMissing(error, packageName);
    throw new HpError(
      'E_BACKEND',
      missing
        ? `selectBackend: backend 'webgpu' is not installed: expected the package ${packageName}, got none. Install it with \`npm install ${packageName}\``
        : `selectBackend: backend 'webgpu' failed to load: expected ${packageName} to import, got ${errorText(error)}`,
      { cause: error, hint: `npm install ${packageName}`, details: { backend: 'webgpu', packageName } },
    );
  }
}

function noAdapterError(attempts: readonly AdapterAttempt[], allowSoftware: boolean): HpError {
  const tried = attempts.map((a) => `${a.source} (${a.request}): ${a.result}`).join('; ');
  const softwareOnly = !allowSoftware && attempts.some((a) => a.result.endsWith('(software)'));
  const libs = isNode ? gpuLibraryReport() : { missing: [] };
  const missing = libs.missing.length > 0 ? ` Missing here: ${libs.missing.join('; ')}.` : '';
  return new HpError(
    'E_BACKEND',
    `selectBackend: no WebGPU adapter: expected ${softwareOnly ? 'a hardware adapter (software adapters are refused by allowSoftware: false)' : 'a GPU or software adapter'}, got ${tried || 'nothing to try'}.${missing} Dawn prints its own reasons on stderr.`,
    {
      hint:
        isNode && process.platform === 'linux'
          ? 'GPU: the vendor driver with its Vulkan ICD + libvulkan1; no GPU: apt-get install libegl1 libegl-dev libegl-mesa0 libgl1-mesa-dri (software OpenGL adapter)'
          : 'a browser or a platform with WebGPU support (the webgpu package ships Dawn for linux, macOS and Windows)',
      details: { attempts, missing: libs.missing },
    },
  );
}

async function setUpWebGpu(options: WebGpuOptions): Promise<WebGpuState> {
  const allowSoftware = options.allowSoftware ?? true;
  const sources = adapterSources(options);
  // Load both packages before looking for adapters, so a missing package is named first.
  const WebGPUBackend = await loadTfjsWebGpu();
  const needsDawn = sources.some((s) => s.dawnBackend !== null);
  let dawn = needsDawn ? await loadDawn() : null;
  if (dawn === null && !('GPUBufferUsage' in globalThis)) {
    // A caller-provided gpu in Node: Dawn's globals (GPUBufferUsage, ...) are still needed by tfjs.
    dawn = await loadDawn().catch(() => null);
  }
  const { found, attempts } = await findAdapter(sources, allowSoftware);
  if (found === null) throw noAdapterError(attempts, allowSoftware);
  if (found.source.dawnBackend !== null || existingNavigatorGpu() === null) {
    installNavigatorGpu(found.gpu, dawn?.globals ?? null);
  } else if (dawn !== null) {
    installNavigatorGpu(existingNavigatorGpu()!, dawn.globals); // only the missing globals
  }

  const s: WebGpuState = {
    found,
    attempts,
    device: null,
    errorCount: 0,
    errors: [],
    deviceLost: null,
    initError: undefined,
    verified: false,
  };
  const { adapter } = found;
  if (tf.findBackendFactory('webgpu') != null) {
    tf.removeBackend('webgpu'); // the package's own factory, registered at import (see the note above)
  }
  tf.registerBackend(
    'webgpu',
    async () => {
      try {
        const requiredLimits: Record<string, number> = {};
        for (const name of REQUIRED_LIMITS) {
          const value = adapter.limits[name];
          if (typeof value === 'number') requiredLimits[name] = value;
        }
        const requiredFeatures = adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
        const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
        device.addEventListener?.('uncapturederror', (event) => {
          s.errorCount += 1;
          if (s.errors.length < MAX_RECORDED_ERRORS) s.errors.push(errorText(event.error?.message ?? event));
        });
        void device.lost?.then((info) => {
          s.deviceLost = `${info.reason ?? 'unknown'}: ${info.message ?? ''}`.trim();
        });
        s.device = device;
        return new WebGPUBackend(device, adapter.info);
      } catch (error) {
        s.initError = error;
        throw error;
      }
    },
    3, // tfjs-backend-webgpu's own priority
  );
  return s;
}

/**
 * Finds an adapter, makes `navigator.gpu` (Node: from the `webgpu` package), registers TF.js's
 * `webgpu` backend on that adapter and returns. Called by `selectBackend('webgpu')`; later calls
 * reuse the first adapter (options of later calls are ignored).
 */
export async function prepareWebGpu(options: WebGpuOptions = {}): Promise<void> {
  if (state !== null) return;
  pending ??= setUpWebGpu(options).then(
    (s) => {
      state = s;
      return s;
    },
    (error) => {
      pending = null;
      throw error;
    },
  );
  await pending;
}

/** The adapter in use by the `webgpu` backend, or null before `selectBackend('webgpu')` succeeded. */
export function describeWebGpu(): WebGpuAdapterDescription | null {
  if (state === null) return null;
  const { adapter, featureLevel, software, source } = state.found;
  const info = adapter.info ?? {};
  const limit = (name: string) => adapter.limits[name] ?? 0;
  return {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    featureLevel,
    software,
    dawnBackend: source.dawnBackend,
    limits: {
      maxBufferSize: limit('maxBufferSize'),
      maxStorageBufferBindingSize: limit('maxStorageBufferBindingSize'),
      maxComputeWorkgroupStorageSize: limit('maxComputeWorkgroupStorageSize'),
      maxComputeInvocationsPerWorkgroup: limit('maxComputeInvocationsPerWorkgroup'),
    },
    gpuErrorCount: state.errorCount,
    gpuErrors: [...state.errors],
    deviceLost: state.deviceLost,
  };
}

/** The error of the backend factory, when `tf.setBackend('webgpu')` returned false. */
export function webgpuInitError(): unknown {
  return state?.initError;
}

/** True once `checkWebGpuComputes` passed on the adapter in use. */
export function webgpuVerified(): boolean {
  return state?.verified === true;
}

/** What was tried to find the adapter in use (empty before setup). */
export function webgpuAdapterAttempts(): readonly AdapterAttempt[] {
  return state?.attempts ?? [];
}

/**
 * Runs a small computation with a known result on the active `webgpu` backend (a matmul whose
 * tfjs program needs the raised limits, and a reduction), reading back asynchronously. A wrong
 * result or a recorded GPU error → `E_BACKEND`: a broken adapter fails here, not in a training run.
 */
export async function checkWebGpuComputes(): Promise<void> {
  const m = 37;
  const k = 300;
  const a = Float32Array.from({ length: m * k }, (_, i) => (i % 7) - 3);
  const b = Float32Array.from({ length: k * 2 }, (_, i) => (i % 5) - 2);
  const expected = new Float32Array(m * 2);
  for (let r = 0; r < m; r += 1) {
    for (let c = 0; c < 2; c += 1) {
      let s = 0;
      for (let j = 0; j < k; j += 1) s += a[r * k + j]! * b[j * 2 + c]!;
      expected[r * 2 + c] = s;
    }
  }
  const [product, total] = tf.tidy(() => {
    const p = tf.matMul(tf.tensor2d(a, [m, k]), tf.tensor2d(b, [k, 2]));
    return [p, tf.sum(tf.range(1, 1001))];
  });
  let got: Float32Array;
  let sum: number;
  try {
    got = (await product!.data()) as Float32Array;
    sum = ((await total!.data()) as Float32Array)[0]!;
  } finally {
    product!.dispose();
    total!.dispose();
  }
  let worst = 0;
  for (let i = 0; i < expected.length; i += 1) worst = Math.max(worst, Math.abs(got[i]! - expected[i]!));
  const errors = describeWebGpu()?.gpuErrors ?? [];
  if (worst !== 0 || sum !== 500500 || errors.length > 0) {
    const adapter = describeWebGpu();
    throw new HpError(
      'E_BACKEND',
      `selectBackend: the WebGPU adapter computes wrong results: expected an exact integer matmul [${m}, ${k}]·[${k}, 2] and sum(1..1000) = 500500, got max error ${worst} and sum ${sum}${errors.length > 0 ? `, GPU errors: ${errors.join(' | ')}` : ''} (adapter ${adapter?.device ?? '?'} ${adapter?.description ?? ''})`,
      { details: { adapter, worst, sum, errors } },
    );
  }
  if (state !== null) state.verified = true;
}

/** For tests: forget the adapter and the backend registration, so the next setup starts afresh. */
export function resetWebGpuForTests(): void {
  if (state !== null || pending !== null) {
    if (tf.findBackendFactory('webgpu') != null) tf.removeBackend('webgpu');
  }
  state = null;
  pending = null;
}
