import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defineConfig, type Options } from 'tsup';

type Plugin = NonNullable<Options['esbuildPlugins']>[number];

/**
 * For the `register-gradients` entry (src/register-gradients.ts): tfjs-core's gradient files are
 * bundled (`noExternal` below), `@tensorflow/tfjs-core` itself stays external (the user's copy), and
 * `Prod_grad`'s import of `../base` (tfjs-core's whole public API: bundling it would add a second copy
 * of io and optimizers, with their class registrations) becomes that same external package, which
 * exports the `backend_util` namespace Prod_grad uses.
 */
const tfjsCoreGradients: Plugin = {
  name: 'tfjs-core-gradients',
  setup(build) {
    build.onResolve({ filter: /^@tensorflow\/tfjs-core$/ }, () => ({
      path: '@tensorflow/tfjs-core',
      external: true,
    }));
    build.onResolve({ filter: /^\.\.\/base$/ }, (args) =>
      /[\\/]@tensorflow[\\/]tfjs-core[\\/]dist[\\/]gradients[\\/]/.test(args.importer)
        ? { path: '@tensorflow/tfjs-core', external: true }
        : undefined,
    );
  },
};

/** The bundled tfjs-core chunk ships without a source map (700 kB of tfjs sources the user already has). */
async function dropVendoredSourceMap(): Promise<void> {
  for (const file of await readdir('dist')) {
    if (!/^tfjs-gradients-[\w-]+\.js$/.test(file)) continue;
    const path = join('dist', file);
    const code = await readFile(path, 'utf8');
    await writeFile(path, code.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n'));
    await rm(`${path}.map`, { force: true });
  }
}

export default defineConfig({
  entry: { index: 'src/index.ts', 'register-gradients': 'src/register-gradients.ts' },
  format: ['esm'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  noExternal: [/^@tensorflow\/tfjs-core\/dist\//],
  esbuildPlugins: [tfjsCoreGradients],
  onSuccess: dropVendoredSourceMap,
});
