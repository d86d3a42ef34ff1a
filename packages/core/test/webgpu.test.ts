import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  describeBackend,
  formatBackend,
  type GpuAdapterLike,
  type GpuLike,
  gpuLibraryReport,
  isHpError,
  isSoftwareAdapter,
  selectBackend,
  webgpuAdapterAttempts,
} from '../src/index.js';
import { findAdapter, resetWebGpuForTests } from '../src/webgpu.js';
import { webgpuSkipReason } from './webgpu-available.js';

/** A fake adapter: enough of GPUAdapter for the adapter search (no device behind it). */
function fakeAdapter(info: Record<string, string | boolean>, features: string[] = []): GpuAdapterLike {
  return {
    info,
    features: new Set(features),
    limits: { maxBufferSize: 1 << 30, maxStorageBufferBindingSize: 1 << 27 },
    requestDevice: async () => {
      throw new Error('fake adapter: no device');
    },
  };
}

/** A fake navigator.gpu answering each request from a list (null = no adapter, Error = throws). */
function fakeGpu(answers: (GpuAdapterLike | null | Error)[]): GpuLike & { requests: object[] } {
  const requests: object[] = [];
  return {
    requests,
    async requestAdapter(options?: object) {
      requests.push(options ?? {});
      const answer = answers[Math.min(requests.length - 1, answers.length - 1)] ?? null;
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
}

const LLVMPIPE = { vendor: '', architecture: '', device: 'llvmpipe-llvm-15', description: 'OpenGL 4.5 Mesa' };
const NVIDIA = {
  vendor: 'nvidia',
  architecture: 'hopper',
  device: 'NVIDIA H200',
  description: 'Vulkan driver',
};

describe('isSoftwareAdapter', () => {
  it.each([
    ['llvmpipe (Mesa GL)', LLVMPIPE, true],
    ['lavapipe (Mesa Vulkan)', { device: 'llvmpipe (LLVM 15)', description: 'Mesa lavapipe' }, true],
    ['SwiftShader', { vendor: 'google', architecture: 'swiftshader', device: 'SwiftShader Device' }, true],
    ['WARP', { description: 'Microsoft Basic Render Driver' }, true],
    ['fallback flag', { vendor: 'x', isFallbackAdapter: true }, true],
    ['an NVIDIA GPU', NVIDIA, false],
  ] as const)('%s', (_name, info, software) => {
    expect(isSoftwareAdapter(fakeAdapter(info))).toBe(software);
  });
});

describe('findAdapter (the search order)', () => {
  const source = (label: string, gpu: GpuLike | Error) => ({
    label,
    dawnBackend: label,
    gpu: async () => {
      if (gpu instanceof Error) throw gpu;
      return gpu;
    },
  });

  it('asks for high-performance first, then for a compatibility adapter', async () => {
    const gpu = fakeGpu([null, fakeAdapter(LLVMPIPE)]);
    const { found, attempts } = await findAdapter([source('opengl', gpu)], true);
    expect(gpu.requests).toEqual([
      { powerPreference: 'high-performance' },
      { powerPreference: 'high-performance', featureLevel: 'compatibility' },
    ]);
    expect(found?.featureLevel).toBe('compatibility');
    expect(found?.software).toBe(true);
    expect(attempts.map((a) => a.result)).toEqual([
      'no adapter',
      'llvmpipe-llvm-15 / OpenGL 4.5 Mesa (software)',
    ]);
  });

  it('a GPU from a later backend wins over a software adapter from an earlier one', async () => {
    const soft = fakeGpu([fakeAdapter(LLVMPIPE)]);
    const gpu = fakeGpu([fakeAdapter(NVIDIA, ['core-features-and-limits'])]);
    const { found } = await findAdapter([source('vulkan', soft), source('opengl', gpu)], true);
    expect(found?.source.label).toBe('opengl');
    expect(found?.software).toBe(false);
    expect(found?.featureLevel).toBe('core');
  });

  it('stops at the first GPU (later backends are not created)', async () => {
    let created = false;
    const later = {
      label: 'opengl',
      dawnBackend: 'opengl',
      gpu: async () => {
        created = true;
        return fakeGpu([]);
      },
    };
    const { found } = await findAdapter([source('default', fakeGpu([fakeAdapter(NVIDIA)])), later], true);
    expect(found?.adapter.info?.device).toBe('NVIDIA H200');
    expect(created).toBe(false);
  });

  it('records a backend that cannot be created and a request that throws, and goes on', async () => {
    const { found, attempts } = await findAdapter(
      [
        source('vulkan', new Error("unrecognised backend 'vulkan'\nPossible backends: ...")),
        source('opengl', fakeGpu([new Error('EGL exploded'), fakeAdapter(LLVMPIPE)])),
      ],
      true,
    );
    expect(attempts).toEqual([
      { source: 'vulkan', request: 'create', result: "threw unrecognised backend 'vulkan'" },
      { source: 'opengl', request: 'high-performance', result: 'threw EGL exploded' },
      {
        source: 'opengl',
        request: 'high-performance, featureLevel compatibility',
        result: 'llvmpipe-llvm-15 / OpenGL 4.5 Mesa (software)',
      },
    ]);
    expect(found?.software).toBe(true);
  });

  it('allowSoftware: false refuses a software-only machine', async () => {
    const { found, attempts } = await findAdapter(
      [source('opengl', fakeGpu([fakeAdapter(LLVMPIPE)]))],
      false,
    );
    expect(found).toBeNull();
    expect(attempts).toHaveLength(1);
  });
});

describe("selectBackend('webgpu') error paths (fake navigator.gpu)", () => {
  afterEach(() => resetWebGpuForTests());

  it('no adapter anywhere → E_BACKEND listing what was tried', async () => {
    const gpu = fakeGpu([null]);
    const error = await selectBackend('webgpu', { webgpu: { gpu } }).catch((e: unknown) => e);
    expect(isHpError(error, 'E_BACKEND')).toBe(true);
    expect((error as Error).message).toMatch(
      /^selectBackend: no WebGPU adapter: expected a GPU or software adapter, got options\.gpu \(high-performance\): no adapter; options\.gpu \(high-performance, featureLevel compatibility\): no adapter\./,
    );
    expect((error as { details: { attempts: unknown[] } }).details.attempts).toHaveLength(2);
  });

  it('only a software adapter and allowSoftware: false → E_BACKEND saying so and naming it', async () => {
    const gpu = fakeGpu([fakeAdapter(LLVMPIPE)]);
    await expect(selectBackend('webgpu', { webgpu: { gpu, allowSoftware: false } })).rejects.toMatchObject({
      code: 'E_BACKEND',
      message: expect.stringMatching(
        /expected a hardware adapter \(software adapters are refused by allowSoftware: false\), got options\.gpu \(high-performance\): llvmpipe-llvm-15 \/ OpenGL 4\.5 Mesa \(software\)/,
      ),
    });
  });

  it('an adapter whose device cannot be created → E_BACKEND with the reason', async () => {
    const gpu = fakeGpu([fakeAdapter(NVIDIA)]);
    await expect(selectBackend('webgpu', { webgpu: { gpu } })).rejects.toMatchObject({
      code: 'E_BACKEND',
      message: expect.stringMatching(
        /^selectBackend: backend 'webgpu' failed to initialise: .*fake adapter: no device/,
      ),
    });
  });

  it('a Dawn backend name Dawn does not know → E_BACKEND with Dawn’s answer (HPSEG_WEBGPU_BACKENDS)', async () => {
    process.env.HPSEG_WEBGPU_BACKENDS = 'no-such-dawn-backend';
    try {
      await expect(selectBackend('webgpu')).rejects.toMatchObject({
        code: 'E_BACKEND',
        message: expect.stringMatching(
          /got dawn backend=no-such-dawn-backend \((create|high-performance)\): threw unrecognised backend 'no-such-dawn-backend'/,
        ),
      });
    } finally {
      delete process.env.HPSEG_WEBGPU_BACKENDS;
    }
  });
});

describe('gpuLibraryReport', () => {
  it('reports the loader, EGL and ICDs it finds, and names what is missing with its package', () => {
    const report = gpuLibraryReport();
    if (process.platform !== 'linux') {
      expect(report.missing).toEqual([]);
      return;
    }
    for (const line of report.missing) expect(line).toMatch(/Debian|NVIDIA|driver/);
    expect(report.egl === null).toBe(report.missing.some((m) => m.startsWith('libEGL.so')));
    expect(report.vulkanLoader === null).toBe(report.missing.some((m) => m.startsWith('libvulkan.so.1')));
  });

  it('VK_DRIVER_FILES overrides the ICD folders', () => {
    process.env.VK_DRIVER_FILES = '/nonexistent/a_icd.json';
    try {
      const report = gpuLibraryReport();
      if (process.platform === 'linux') {
        expect(report.vulkanIcds).toEqual([{ manifest: '/nonexistent/a_icd.json', library: null }]);
      }
    } finally {
      delete process.env.VK_DRIVER_FILES;
    }
  });
});

const skip = await webgpuSkipReason();
/** The real adapter's feature level and Dawn backend (null when skipped). */
const { featureLevel, dawnBackend } = await (async () => {
  if (skip !== null) return { featureLevel: null, dawnBackend: null };
  await selectBackend('webgpu');
  const adapter = describeBackend().webgpu!;
  resetWebGpuForTests();
  return adapter;
})();

describe.skipIf(skip !== null)('webgpu on the real adapter', () => {
  afterEach(() => resetWebGpuForTests());

  it('selects webgpu, checks it computes, and describes the adapter', async () => {
    const before = tf.memory().numTensors;
    expect(await selectBackend('webgpu')).toBe('webgpu');
    expect(tf.getBackend()).toBe('webgpu');
    expect(tf.memory().numTensors).toBe(before); // the compute check leaves nothing behind
    const d = describeBackend();
    expect(d.name).toBe('webgpu');
    expect(d.selected).toBe('webgpu');
    expect(d.packageName).toBe('@tensorflow/tfjs-backend-webgpu');
    expect(d.webgpu).not.toBeNull();
    expect(d.webgpu!.gpuErrors).toEqual([]);
    expect(d.webgpu!.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(JSON.parse(JSON.stringify(d))).toEqual(d); // goes into run configs as it is
    const line = formatBackend(d);
    expect(line).toMatch(/^webgpu on /);
    expect(line.includes('SOFTWARE adapter')).toBe(d.webgpu!.software);
    const attempts = webgpuAdapterAttempts();
    expect(attempts.length).toBeGreaterThan(0);
    console.log(`webgpu adapter: ${line}`);
  });

  it('computes a matmul and a softmax like the cpu backend (float32 tolerance)', async () => {
    const make = () =>
      tf.tidy(() => {
        const a = tf.randomUniform([70, 90], -1, 1, 'float32', 3);
        const b = tf.randomUniform([90, 40], -1, 1, 'float32', 4);
        return [tf.matMul(a, b), tf.softmax(tf.matMul(a, b))];
      });
    await selectBackend('webgpu');
    const gpu = make();
    const got = await Promise.all(gpu.map((t) => t.data()));
    tf.dispose(gpu);
    await selectBackend('cpu');
    const cpu = make();
    const want = await Promise.all(cpu.map((t) => t.data()));
    tf.dispose(cpu);
    for (let k = 0; k < want.length; k += 1) {
      let worst = 0;
      for (let i = 0; i < want[k]!.length; i += 1) {
        worst = Math.max(worst, Math.abs(got[k]![i]! - want[k]![i]!) / (1 + Math.abs(want[k]![i]!)));
      }
      expect(worst).toBeLessThan(1e-5);
    }
  });

  it('a synchronous read of a GPU tensor → E_BACKEND naming the async read to use', async () => {
    await selectBackend('webgpu');
    // A matmul runs on the GPU (tiny elementwise ops on CPU-resident inputs run on the CPU).
    const y = tf.tidy(() => tf.reshape(tf.matMul(tf.ones([2, 32]), tf.ones([32, 4])), [8]));
    try {
      expect(() => y.dataSync()).toThrow(
        expect.objectContaining({ code: 'E_BACKEND', message: expect.stringContaining('await t.data()') }),
      );
      expect(Array.from(await y.data())).toEqual([32, 32, 32, 32, 32, 32, 32, 32]);
      expect(Array.from(y.dataSync())).toHaveLength(8); // after an async read the values are on the CPU
    } finally {
      y.dispose();
    }
  });

  it.runIf(featureLevel === 'compatibility')(
    'compatibility adapter: a device without the raised limits computes zeros, and the compute check refuses it',
    async () => {
      // Why the limits are requested: tfjs' matmul programs use workgroups of 256 threads, above
      // the compatibility default of 128; Dawn only logs the validation error and the result is 0.
      process.env.EGL_PLATFORM ??= 'surfaceless';
      const dawn = (await import('webgpu' as string)) as { create(flags: string[]): GpuLike };
      const real = dawn.create(
        dawnBackend === 'default' || dawnBackend === null ? [] : [`backend=${dawnBackend}`],
      );
      const crippled: GpuLike = {
        async requestAdapter(options) {
          const adapter = await real.requestAdapter(options);
          if (adapter === null) return null;
          return {
            info: adapter.info,
            features: adapter.features,
            limits: adapter.limits,
            requestDevice: () => adapter.requestDevice(), // drops requiredLimits
          };
        },
      };
      await expect(selectBackend('webgpu', { webgpu: { gpu: crippled } })).rejects.toMatchObject({
        code: 'E_BACKEND',
        message: expect.stringMatching(
          /^selectBackend: the WebGPU adapter computes wrong results: expected an exact integer matmul .*got max error [1-9].*GPU errors: .*workgroup_size\(256/,
        ),
      });
    },
  );
});

if (skip !== null) {
  it.skip(`webgpu on the real adapter: skipped (${skip})`, () => {});
}
