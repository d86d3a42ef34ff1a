import * as tf from '@tensorflow/tfjs-core';
import { HpError } from './errors.js';
import { importOptional, isModuleMissing } from './optional-import.js';
import {
  checkWebGpuComputes,
  describeWebGpu,
  prepareWebGpu,
  type WebGpuAdapterDescription,
  type WebGpuOptions,
  webgpuInitError,
  webgpuVerified,
} from './webgpu.js';

/** Backends hpseg knows by name, with the npm package that provides each. */
export type KnownBackend = 'tensorflow-gpu' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
/**
 * Where TF.js runs: `auto` (the fastest installed of tensorflow-gpu, tensorflow, wasm, cpu), a
 * known name, or the name of any backend registered with TF.js (imported by the application).
 */
export type BackendChoice = 'auto' | KnownBackend | (string & {});
export type ConcreteBackend = KnownBackend | (string & {});

/** The known names (for CLI flags and help); `selectBackend` also accepts any registered TF.js backend. */
export const BACKEND_CHOICES: readonly ('auto' | KnownBackend)[] = [
  'auto',
  'tensorflow-gpu',
  'tensorflow',
  'webgpu',
  'wasm',
  'cpu',
];

interface BackendSource {
  /** npm package whose import registers the backend with tfjs-core. */
  readonly packageName: string;
  /** Name under which the package registers itself with `tf.registerBackend`. */
  readonly tfName: string;
}

const SOURCES: Readonly<Record<KnownBackend, BackendSource>> = {
  'tensorflow-gpu': { packageName: '@tensorflow/tfjs-node-gpu', tfName: 'tensorflow' },
  tensorflow: { packageName: '@tensorflow/tfjs-node', tfName: 'tensorflow' },
  webgpu: { packageName: '@tensorflow/tfjs-backend-webgpu', tfName: 'webgpu' },
  wasm: { packageName: '@tensorflow/tfjs-backend-wasm', tfName: 'wasm' },
  cpu: { packageName: '@tensorflow/tfjs-backend-cpu', tfName: 'cpu' },
};

/**
 * Fastest first; `auto` tries them in this order. webgpu is not among them: it has not yet been
 * measured on a real GPU, and on a machine without one it finds Mesa's software adapter, which is
 * slower than wasm. Choose it explicitly.
 */
const AUTO_ORDER: readonly KnownBackend[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

export interface SelectBackendOptions {
  /** Adapter setup of the `webgpu` backend (ignored by the others). */
  readonly webgpu?: WebGpuOptions;
}

/** What `selectBackend` last activated (it can differ from the TF.js name: tensorflow-gpu runs as `tensorflow`). */
let selected: ConcreteBackend | null = null;

function isKnown(name: string): name is KnownBackend {
  return Object.hasOwn(SOURCES, name);
}

function message(error: unknown): string {
  return String((error as Error)?.message ?? error);
}

/** Loads the package of one backend; throws `E_BACKEND` naming the install command when it is missing. */
async function loadBackendPackage(choice: KnownBackend, options: SelectBackendOptions): Promise<void> {
  if (choice === 'webgpu') {
    await prepareWebGpu(options.webgpu);
    return;
  }
  const { packageName } = SOURCES[choice];
  try {
    await importOptional(packageName);
  } catch (error) {
    const missing = isModuleMissing(error, packageName);
    throw new HpError(
      'E_BACKEND',
      missing
        ? `selectBackend: backend '${choice}' is not installed: expected the package ${packageName}, got none. Install it with \`npm install ${packageName}\``
        : `selectBackend: backend '${choice}' failed to load: expected ${packageName} to import, got ${message(error)}`,
      { cause: error, hint: `npm install ${packageName}`, details: { backend: choice, packageName } },
    );
  }
}

/** `tf.setBackend` + `tf.ready`, with the backend's own initialisation error in an `E_BACKEND`. */
async function activate(choice: ConcreteBackend, tfName: string): Promise<void> {
  let ok: boolean;
  try {
    ok = await tf.setBackend(tfName);
    if (ok) await tf.ready();
  } catch (error) {
    throw new HpError(
      'E_BACKEND',
      `selectBackend: backend '${choice}' failed to initialise: expected a working backend, got ${message(error)}`,
      { cause: error },
    );
  }
  if (!ok) {
    const cause = tfName === 'webgpu' ? webgpuInitError() : undefined;
    throw new HpError(
      'E_BACKEND',
      `selectBackend: backend '${choice}' failed to initialise: expected tf.setBackend('${tfName}') to succeed, got false${cause === undefined ? ' (TF.js printed the reason above)' : `: ${message(cause)}`}`,
      { cause },
    );
  }
}

async function selectKnown(choice: KnownBackend, options: SelectBackendOptions): Promise<void> {
  await loadBackendPackage(choice, options);
  await activate(choice, SOURCES[choice].tfName);
  if (choice === 'webgpu' && !webgpuVerified()) await checkWebGpuComputes();
}

/**
 * Activates a TF.js backend and returns the choice that is now active. Only applications (the CLI,
 * tests) call this; library packages use whatever backend is active.
 *
 * Known names import their package (missing → `E_BACKEND` with the `npm install` command);
 * `webgpu` also finds an adapter (see `WebGpuOptions`) and checks that it computes. Any other
 * name must already be registered with TF.js (the application imported its package).
 */
export async function selectBackend(
  choice: BackendChoice = 'auto',
  options: SelectBackendOptions = {},
): Promise<ConcreteBackend> {
  if (typeof choice !== 'string' || choice.trim() === '') {
    throw new HpError(
      'E_ARG',
      `selectBackend: backend must be a name: expected one of ${BACKEND_CHOICES.join(', ')} or a registered TF.js backend, got ${JSON.stringify(choice)}`,
    );
  }
  if (isKnown(choice)) {
    await selectKnown(choice, options);
    selected = choice;
    return choice;
  }
  if (choice !== 'auto') {
    if (tf.findBackendFactory(choice) == null) {
      const registered = Object.keys(tf.engine().registryFactory).sort();
      throw new HpError(
        'E_ARG',
        `selectBackend: unknown backend: expected one of ${BACKEND_CHOICES.join(', ')} or a backend registered with TF.js (registered now: ${registered.join(', ') || 'none'}), got ${JSON.stringify(choice)}. Import the package that registers it before selecting it`,
        { details: { choice, registered } },
      );
    }
    await activate(choice, choice);
    selected = choice;
    return choice;
  }
  const failures: string[] = [];
  for (const candidate of AUTO_ORDER) {
    try {
      await selectKnown(candidate, options);
      selected = candidate;
      return candidate;
    } catch (error) {
      failures.push(`${candidate}: ${message(error)}`);
    }
  }
  throw new HpError(
    'E_BACKEND',
    `selectBackend: no TF.js backend could be initialised: expected at least one of ${AUTO_ORDER.join(', ')}, got failures (${failures.join('; ')})`,
    { hint: 'npm install @tensorflow/tfjs-backend-wasm' },
  );
}

/**
 * Which known backends can be imported here (without activating any). For webgpu this means both
 * `@tensorflow/tfjs-backend-webgpu` and (in Node) `webgpu` import; whether an adapter exists is
 * only known once `selectBackend('webgpu')` ran.
 */
export async function availableBackends(): Promise<ConcreteBackend[]> {
  const out: ConcreteBackend[] = [];
  for (const candidate of ['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const) {
    const packages =
      candidate === 'webgpu' ? [SOURCES.webgpu.packageName, 'webgpu'] : [SOURCES[candidate].packageName];
    try {
      for (const p of packages) await importOptional(p);
      out.push(candidate);
    } catch {
      // not installed
    }
  }
  return out;
}

/** The active backend, for run configs and logs (JSON-serialisable). */
export interface BackendDescription {
  /** The active TF.js backend (`tf.getBackend()`), null when none has been set. */
  readonly name: string | null;
  /** What `selectBackend` resolved to (`tensorflow-gpu` runs under the TF.js name `tensorflow`); null when it was not used. */
  readonly selected: string | null;
  /** The npm package of a known backend, null for others. */
  readonly packageName: string | null;
  /** The adapter, when the active backend is webgpu. */
  readonly webgpu: WebGpuAdapterDescription | null;
}

/** Describes the active backend without initialising one. */
export function describeBackend(): BackendDescription {
  const name = (tf.engine().backendName as string | null | undefined) ?? null;
  const known = selected !== null && isKnown(selected) && SOURCES[selected].tfName === name ? selected : null;
  const guessed = known ?? (name !== null && isKnown(name) && name !== 'tensorflow' ? name : null);
  return {
    name,
    selected: selected !== null && (known !== null || selected === name) ? selected : null,
    packageName: guessed === null ? null : SOURCES[guessed].packageName,
    webgpu: name === 'webgpu' ? describeWebGpu() : null,
  };
}

/** One line for logs: `webgpu on llvmpipe (OpenGL 4.5 Mesa 22.3.6; Dawn opengl; compatibility; SOFTWARE ...)`. */
export function formatBackend(description: BackendDescription = describeBackend()): string {
  const { name, selected: choice, packageName, webgpu } = description;
  if (name === null) return 'no TF.js backend selected';
  const label = choice !== null && choice !== name ? `${choice} (TF.js ${name})` : name;
  if (webgpu === null) return packageName === null ? label : `${label} (${packageName})`;
  const device = [webgpu.vendor, webgpu.architecture, webgpu.device].filter((s) => s !== '').join(' ');
  const parts = [
    webgpu.description,
    webgpu.dawnBackend === null ? null : `Dawn ${webgpu.dawnBackend}`,
    `${webgpu.featureLevel} feature level`,
    webgpu.software ? 'SOFTWARE adapter: correct results, timings say nothing about a GPU' : null,
    webgpu.gpuErrorCount > 0 ? `${webgpu.gpuErrorCount} GPU errors` : null,
    webgpu.deviceLost === null ? null : `device lost (${webgpu.deviceLost})`,
  ].filter((s): s is string => s !== null && s !== '');
  return `${label} on ${device || 'an unnamed adapter'} (${parts.join('; ')})`;
}
