import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { defineConfig, type Plugin } from 'vitest/config';

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
  'tools/device', // the device bundle's golden-test runner
];

/** The nearest package.json above `file`, parsed. */
function nearestManifest(
  file: string,
): { peerDependenciesMeta?: Record<string, { optional?: boolean }> } | null {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const path = join(dir, 'package.json');
    if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8'));
    if (dirname(dir) === dir) return null;
  }
}

function installedFrom(pkg: string, file: string): boolean {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'node_modules', pkg, 'package.json'))) return true;
    if (dirname(dir) === dir) return false;
  }
}

/**
 * Vite turns a missing optional peer dependency of a package it runs from source (our workspace
 * packages) into a module that throws a plain `Error('Could not resolve "x" imported by "y"')`, where
 * Node throws `ERR_MODULE_NOT_FOUND`. Such imports are left to Node here, so the tests see what users
 * see (`selectBackend`'s "not installed" message for `@tensorflow/tfjs-node`, for instance).
 */
const missingOptionalPeersToNode: Plugin = {
  name: 'hpseg-missing-optional-peers',
  enforce: 'pre',
  resolveId(id, importer) {
    if (!importer || id.startsWith('.') || id.startsWith('/') || id.includes(':') || id.includes('\0'))
      return null;
    const pkg = id.startsWith('@') ? id.split('/').slice(0, 2).join('/') : id.split('/')[0]!;
    const optional = nearestManifest(importer)?.peerDependenciesMeta?.[pkg]?.optional === true;
    return optional && !installedFrom(pkg, importer) ? { id, external: true } : null;
  },
};

export default defineConfig({
  plugins: [missingOptionalPeersToNode],
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
