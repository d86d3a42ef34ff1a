import { selectBackend } from '@hpseg/core';

/**
 * Null when `selectBackend('webgpu')` works here (a GPU, or Mesa's software adapter); otherwise the
 * reason, printed once. With HPSEG_REQUIRE_WEBGPU=1 (set by .ci/run once it installed Mesa's EGL)
 * a missing adapter fails the file instead of skipping it.
 */
export async function webgpuSkipReason(): Promise<string | null> {
  try {
    await selectBackend('webgpu');
    return null;
  } catch (error) {
    if (process.env.HPSEG_REQUIRE_WEBGPU === '1') throw error;
    const reason = String((error as Error)?.message ?? error);
    console.warn(`[webgpu tests skipped] ${reason}`);
    return reason;
  }
}
