import { defineConfig } from 'vitest/config';

/** Runs bench/*.bench.ts as plain vitest files (vitest's module loader registers TF.js gradients; plain Node cannot). */
export default defineConfig({
  resolve: { conditions: ['@hpseg/source'] },
  ssr: { resolve: { conditions: ['@hpseg/source'] } },
  test: { include: ['bench/**/*.bench.ts'], testTimeout: 900_000, hookTimeout: 900_000 },
});
