import { selectBackend } from '../src/index.js';
import { resetWebGpuForTests } from '../src/webgpu.js';

/**
 * Null when a WebGPU adapter (a GPU, or Mesa's software one) works here; otherwise the reason,
 * printed once. With HPSEG_REQUIRE_WEBGPU=1 (set by .ci/run once it installed Mesa) a missing
 * adapter fails instead of skipping.
 */
export async function webgpuSkipReason(): Promise<string | null> {
  try {
    await selectBackend('webgpu');
    resetWebGpuForTests();
    await selectBackend('cpu');
    return null;
  } catch (error) {
    resetWebGpuForTests();
    if (process.env.HPSEG_REQUIRE_WEBGPU === '1') throw error;
    const reason = String((error as Error)?.message ?? error);
    console.warn(`[webgpu tests skipped] ${reason}`);
    return reason;
  }
}
