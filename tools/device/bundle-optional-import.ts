/**
 * Takes the place of packages/core/src/optional-import.ts in the device bundle only
 * (tools/device/build-bundle.mjs). `importOptional` there imports a package by a computed name, so
 * that nothing requires the optional packages to be installed; a bundler cannot follow such an
 * import. Here the optional packages the device check uses are imported by literal name, so they
 * are bundled; any other name (`@tensorflow/tfjs-node`, ...) is imported as before and fails as it
 * does where the package is not installed. `isModuleMissing` is the original.
 */
export { isModuleMissing } from '../../packages/core/src/optional-import.js';

/**
 * Node gives a CommonJS package's `module.exports` properties as named exports of `import()` (the
 * TF.js backends' Node builds are CommonJS); in a split bundle such a package is a chunk whose only
 * export is `default`, so its properties are copied up here, as Node would give them.
 */
async function asNode(load: Promise<Record<string, unknown>>): Promise<unknown> {
  const ns = await load;
  const cjs = ns.default;
  if (Object.keys(ns).length === 1 && typeof cjs === 'object' && cjs !== null)
    return { ...cjs, default: cjs };
  return ns;
}

const BUNDLED: Readonly<Record<string, () => Promise<unknown>>> = {
  webgpu: () => import('webgpu'),
  '@tensorflow/tfjs-backend-webgpu': () => asNode(import('@tensorflow/tfjs-backend-webgpu')),
  '@tensorflow/tfjs-backend-wasm': () => asNode(import('@tensorflow/tfjs-backend-wasm')),
  '@tensorflow/tfjs-backend-cpu': () => asNode(import('@tensorflow/tfjs-backend-cpu')),
};

export async function importOptional(packageName: string): Promise<unknown> {
  const bundled = BUNDLED[packageName];
  if (bundled !== undefined) return bundled();
  const specifier: string = packageName;
  return import(specifier);
}
