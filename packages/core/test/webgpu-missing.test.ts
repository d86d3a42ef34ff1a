import { afterEach, describe, expect, it, vi } from 'vitest';
import { selectBackend } from '../src/index.js';
import { resetWebGpuForTests } from '../src/webgpu.js';

/** Packages this file pretends are not installed (Node's own "not found" error for them). */
const missing = new Set<string>();

vi.mock('../src/optional-import.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../src/optional-import.js')>();
  return {
    ...original,
    importOptional: async (name: string) => {
      if (missing.has(name)) {
        throw Object.assign(new Error(`Cannot find package '${name}' imported from /x.js`), {
          code: 'ERR_MODULE_NOT_FOUND',
        });
      }
      return original.importOptional(name);
    },
  };
});

describe("selectBackend('webgpu') with a package missing", () => {
  afterEach(() => {
    missing.clear();
    resetWebGpuForTests();
  });

  it('without the webgpu package (Node) → E_BACKEND with the npm command', async () => {
    missing.add('webgpu');
    await expect(selectBackend('webgpu')).rejects.toMatchObject({
      name: 'HpError',
      code: 'E_BACKEND',
      hint: 'npm install webgpu @tensorflow/tfjs-backend-webgpu',
      message: expect.stringMatching(
        /^selectBackend: backend 'webgpu' needs navigator\.gpu: expected the package webgpu .*got none\. Install it with `npm install webgpu @tensorflow\/tfjs-backend-webgpu`$/,
      ),
    });
  });

  it('without @tensorflow/tfjs-backend-webgpu → E_BACKEND with the npm command', async () => {
    missing.add('@tensorflow/tfjs-backend-webgpu');
    await expect(selectBackend('webgpu')).rejects.toMatchObject({
      code: 'E_BACKEND',
      message: expect.stringContaining(
        "backend 'webgpu' is not installed: expected the package @tensorflow/tfjs-backend-webgpu, got none. Install it with `npm install @tensorflow/tfjs-backend-webgpu`",
      ),
    });
  });

  it('a given navigator.gpu needs no webgpu package (browsers)', async () => {
    missing.add('webgpu');
    const gpu = { requestAdapter: async () => null };
    await expect(selectBackend('webgpu', { webgpu: { gpu } })).rejects.toMatchObject({
      code: 'E_BACKEND',
      message: expect.stringContaining('no WebGPU adapter'),
    });
  });

  it('availableBackends leaves webgpu out when either package is missing', async () => {
    const { availableBackends } = await import('../src/index.js');
    expect(await availableBackends()).toContain('webgpu');
    missing.add('webgpu');
    expect(await availableBackends()).not.toContain('webgpu');
  });
});
