// Node ESM resolve hook. Some hpseg packages import '@tensorflow/tfjs-core/dist/register_all_gradients.js'
// (tfjs-core's CommonJS Node bundle registers no gradients). Those dist files are ES modules written
// for bundlers: extensionless ('./ops/add') and directory ('./gradients') imports, which plain Node
// refuses. This hook retries such relative imports inside @tensorflow/* dist folders as '<x>.js' and
// '<x>/index.js'. tfjs keeps its engine and registries on a global object, so the extra module copy
// registers its gradients with the same engine the Node bundle uses.
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    const parent = context.parentURL ?? '';
    const relative = specifier.startsWith('./') || specifier.startsWith('../');
    if (!parent.includes('/@tensorflow/') || !relative) throw error;
    const path = fileURLToPath(new URL(specifier, parent));
    for (const candidate of [`${path}.js`, `${path}/index.js`]) {
      if (existsSync(candidate) && statSync(candidate).isFile()) {
        return { url: pathToFileURL(candidate).href, format: 'module', shortCircuit: true };
      }
    }
    throw error;
  }
}
