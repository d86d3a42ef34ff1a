import * as tf from '@tensorflow/tfjs-core';
import { HpError } from './errors.js';

/** Where TF.js runs. `auto` picks the fastest one installed: tensorflow-gpu, tensorflow, wasm, cpu. */
export type BackendChoice = 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
export type ConcreteBackend = Exclude<BackendChoice, 'auto'>;

export const BACKEND_CHOICES: readonly BackendChoice[] = [
  'auto',
  'tensorflow-gpu',
  'tensorflow',
  'wasm',
  'cpu',
];

interface BackendSource {
  /** npm package whose import registers the backend with tfjs-core. */
  readonly packageName: string;
  /** Name under which the package registers itself with `tf.registerBackend`. */
  readonly tfName: string;
}

/** Fastest first; `auto` tries them in this order. */
const SOURCES: Readonly<Record<ConcreteBackend, BackendSource>> = {
  'tensorflow-gpu': { packageName: '@tensorflow/tfjs-node-gpu', tfName: 'tensorflow' },
  tensorflow: { packageName: '@tensorflow/tfjs-node', tfName: 'tensorflow' },
  wasm: { packageName: '@tensorflow/tfjs-backend-wasm', tfName: 'wasm' },
  cpu: { packageName: '@tensorflow/tfjs-backend-cpu', tfName: 'cpu' },
};

const AUTO_ORDER: readonly ConcreteBackend[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/** Imports a package by a computed name, so bundlers and tsc do not require it to be installed. */
async function importOptional(packageName: string): Promise<unknown> {
  const specifier: string = packageName;
  return import(specifier);
}

function isModuleMissing(error: unknown, packageName: string): boolean {
  const e = error as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : '';
  return (
    (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
    (message.includes(packageName) || message.includes('Cannot find'))
  );
}

/** Loads the package of one backend; throws `E_BACKEND` naming the install command when it is missing. */
async function loadBackendPackage(choice: ConcreteBackend): Promise<void> {
  const { packageName } = SOURCES[choice];
  try {
    await importOptional(packageName);
  } catch (error) {
    const missing = isModuleMissing(error, packageName);
    throw new HpError(
      'E_BACKEND',
      missing
        ? `selectBackend: backend '${choice}' is not installed: expected the package ${packageName}, got none. Install it with \`npm install ${packageName}\``
        : `selectBackend: backend '${choice}' failed to load: expected ${packageName} to import, got ${String((error as Error)?.message ?? error)}`,
      { cause: error, hint: `npm install ${packageName}`, details: { backend: choice, packageName } },
    );
  }
}

/**
 * Activates a TF.js backend and returns the concrete choice that is now active.
 * Only applications (the CLI, tests) call this; library packages use whatever backend is active.
 */
export async function selectBackend(choice: BackendChoice = 'auto'): Promise<ConcreteBackend> {
  if (!BACKEND_CHOICES.includes(choice)) {
    throw new HpError(
      'E_ARG',
      `selectBackend: unknown backend: expected one of ${BACKEND_CHOICES.join(', ')}, got ${JSON.stringify(choice)}`,
    );
  }
  const candidates = choice === 'auto' ? AUTO_ORDER : [choice];
  const failures: string[] = [];
  for (const candidate of candidates) {
    try {
      await loadBackendPackage(candidate);
      const ok = await tf.setBackend(SOURCES[candidate].tfName);
      if (!ok) throw new Error(`tf.setBackend('${SOURCES[candidate].tfName}') returned false`);
      await tf.ready();
      return candidate;
    } catch (error) {
      if (choice !== 'auto') {
        if ((error as { name?: unknown }).name === 'HpError') throw error;
        throw new HpError(
          'E_BACKEND',
          `selectBackend: backend '${candidate}' failed to initialise: expected a working backend, got ${String((error as Error)?.message ?? error)}`,
          { cause: error },
        );
      }
      failures.push(`${candidate}: ${String((error as Error)?.message ?? error)}`);
    }
  }
  throw new HpError(
    'E_BACKEND',
    `selectBackend: no TF.js backend could be initialised: expected at least one of ${AUTO_ORDER.join(', ')}, got failures (${failures.join('; ')})`,
    { hint: 'npm install @tensorflow/tfjs-backend-wasm' },
  );
}

/** Which backends can be imported here (without activating any). */
export async function availableBackends(): Promise<ConcreteBackend[]> {
  const out: ConcreteBackend[] = [];
  for (const candidate of AUTO_ORDER) {
    try {
      await loadBackendPackage(candidate);
      out.push(candidate);
    } catch {
      // not installed
    }
  }
  return out;
}
