import { defineConfig } from 'vitest/config';

/** Every workspace package is one vitest project; sources are resolved through the `@hpseg/source` condition. */
const projects = [
  'packages/core',
  'packages/backbone-vit',
  'packages/seg-head',
  'packages/hidden-positives',
  'packages/datasets',
  'packages/eval',
  'packages/train',
  'apps/cli',
  'tools/checks', // repository-wide source checks (sync reads on webgpu paths)
];

export default defineConfig({
  resolve: { conditions: ['@hpseg/source'] },
  ssr: { resolve: { conditions: ['@hpseg/source'] } },
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: projects.map((root) => ({
      extends: true,
      test: {
        name: root.split('/')[1]!,
        root,
        include: ['test/**/*.test.ts'],
      },
    })),
  },
});
