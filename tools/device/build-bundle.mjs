#!/usr/bin/env node
// Builds the device bundle: the WebGPU device check (tools/device/webgpu-check.ts) and the webgpu
// golden test files, as plain Node ESM with every JS dependency inlined, plus only the linux-x64
// native files they load. tools/device/webgpu-check.sh runs it with `node` on a machine that has
// no node_modules and no npm registry (tools/device/README.md).
//
//   node tools/device/build-bundle.mjs     (needs the repository's node_modules: run `npm ci` first)
//
// Writes (both gitignored):
//   tools/device/bundle/hpseg-device/         the unpacked tree (run from here on this machine)
//   tools/device/bundle/hpseg-device.tar.gz   the same tree packed: the one file a device run carries
// and prints the size of every file, the tree and the tarball. Exit 1 when the build fails, a bundled
// file still imports a package at run time, or the tarball is over MAX_TARBALL_BYTES.
//
// How the pieces are found at run time, from the tree's own folder (every output file sits in it):
// - our packages resolve through the `@hpseg/source` export condition (their TypeScript sources);
//   `import.meta.url` in them is the output file's URL, so the worker entries they start
//   (`./fused-worker.js`, `./tfjs-worker.js`, `./crf-worker.js`, see resolveWorkerEntry in
//   @hpseg/core) are emitted under those names next to it;
// - `importOptional` (packages/core/src/optional-import.ts) imports packages by computed name, which
//   a bundler cannot follow: tools/device/bundle-optional-import.ts takes its place here and imports
//   the bundled ones by literal name;
// - CommonJS code gets `require`, `__filename` and `__dirname` of the output file (banner): Dawn's
//   `dawn.node` is found at `dist/linux-x64/` (the `webgpu` package's own layout), TF.js wasm's
//   `.wasm` files next to the bundle, onnxruntime-node's binding (rewritten path) in `onnxruntime/`;
// - the golden test files read their fixtures from the repository (they travel with the git tree):
//   `import.meta.url` in `packages/*/test/` is rewritten to the test file's own place in the
//   repository, found from the tree's location (manifest.json `repoRoot`).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const OUT = join(ROOT, 'tools', 'device', 'bundle');
const NAME = 'hpseg-device';
const TREE = join(OUT, NAME);
const TARBALL = join(OUT, `${NAME}.tar.gz`);
/** A `run` call carries at most 64 MiB; leave room for the rest of the working tree's ignored paths. */
const MAX_TARBALL_BYTES = 60 * 2 ** 20;
/** The webgpu golden test files (the same list as webgpu-check.ts runs through vitest from source). */
const GOLDEN = ['core', 'backbone-vit', 'seg-head', 'hidden-positives'];
const PLATFORM = 'linux-x64';

const require = createRequire(join(ROOT, 'package.json'));
const fail = (message) => {
  console.error(`build-bundle: ${message}`);
  process.exit(1);
};

let esbuild;
try {
  esbuild = await import(pathToFileURL(require.resolve('esbuild')).href);
} catch (error) {
  fail(`expected esbuild in node_modules (it comes with tsup: run npm ci), got ${error.message}`);
}

const pkgDir = (name) => dirname(require.resolve(`${name}/package.json`));
const versionOf = (name) => JSON.parse(readFileSync(join(pkgDir(name), 'package.json'), 'utf8')).version;
const rel = (p) => relative(ROOT, p).split(sep).join('/');

/** tools/device/bundle-optional-import.ts replaces packages/core/src/optional-import.ts. */
const optionalImports = {
  name: 'hpseg-optional-imports',
  setup(build) {
    const replacement = join(ROOT, 'tools', 'device', 'bundle-optional-import.ts');
    build.onResolve({ filter: /^\.\/optional-import\.js$/ }, (args) =>
      args.importer.startsWith(join(ROOT, 'packages', 'core', 'src') + sep)
        ? { path: replacement }
        : undefined,
    );
  },
};

/** onnxruntime-node requires its binding by a computed path under its package; here it is `onnxruntime/`. */
const onnxBinding = {
  name: 'hpseg-onnxruntime-binding',
  setup(build) {
    build.onLoad({ filter: /[\\/]onnxruntime-node[\\/]dist[\\/]binding\.js$/ }, (args) => {
      const code = readFileSync(args.path, 'utf8');
      const from =
        /require\(`\.\.\/bin\/napi-v\d+\/\$\{process\.platform\}\/\$\{process\.arch\}\/onnxruntime_binding\.node`\)/;
      if (!from.test(code))
        fail(
          `onnxruntime-node's binding.js changed: expected its require of ../bin/napi-v*/…/onnxruntime_binding.node in ${args.path}`,
        );
      return {
        contents: code.replace(
          from,
          "require(require('node:path').join(__dirname, 'onnxruntime', 'onnxruntime_binding.node'))",
        ),
        loader: 'js',
      };
    });
  },
};

/**
 * As tsup.config.ts of @hpseg/core: tfjs-core's gradient files import `../base` (tfjs-core's whole
 * public API); that becomes the package itself, so there is one copy of io and the optimizers.
 */
const tfjsCoreGradients = {
  name: 'hpseg-tfjs-core-gradients',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/base$/ }, (args) =>
      /[\\/]@tensorflow[\\/]tfjs-core[\\/]dist[\\/]gradients[\\/]/.test(args.importer)
        ? build.resolve('@tensorflow/tfjs-core', { kind: args.kind, resolveDir: ROOT })
        : undefined,
    );
  },
};

/** In the test folders, `import.meta.url` is the test file's place in the repository (fixtures). */
const testFileLocations = {
  name: 'hpseg-test-file-locations',
  setup(build) {
    build.onLoad({ filter: /[\\/]packages[\\/][^\\/]+[\\/]test[\\/][^\\/]+\.ts$/ }, (args) => {
      const code = readFileSync(args.path, 'utf8');
      const here = `new URL(${JSON.stringify(rel(args.path))}, __hpsegRepoRoot).href`;
      if (/import\.meta\.(dirname|filename)/.test(code)) {
        fail(`${rel(args.path)} uses import.meta.dirname/filename: rewrite them here too`);
      }
      return { contents: code.replaceAll('import.meta.url', here), loader: 'ts' };
    });
  },
};

/** One entry per golden test file: import it (it collects its tests), then run what it collected. */
const goldenEntries = {
  name: 'hpseg-golden-entries',
  setup(build) {
    build.onResolve({ filter: /^golden-entry:/ }, (args) => ({ path: args.path, namespace: 'golden-entry' }));
    // The test file is imported for what it does (its describe/it calls), which the packages'
    // `"sideEffects": false` would otherwise drop.
    build.onResolve({ filter: /^golden-test:/ }, (args) => ({
      path: join(ROOT, args.path.slice('golden-test:'.length)),
      sideEffects: true,
    }));
    build.onLoad({ filter: /.*/, namespace: 'golden-entry' }, (args) => {
      const file = `packages/${args.path.slice('golden-entry:'.length)}/test/webgpu.test.ts`;
      return {
        contents: [
          `import { runCollected } from ${JSON.stringify(join(ROOT, 'tools', 'device', 'golden-runner.ts'))};`,
          `import ${JSON.stringify(`golden-test:${file}`)};`,
          `await runCollected(${JSON.stringify(file)});`,
        ].join('\n'),
        resolveDir: ROOT,
        loader: 'js',
      };
    });
  },
};

const repoRoot = relative(TREE, ROOT).split(sep).join('/');
const banner = [
  '// hpseg device bundle (tools/device/build-bundle.mjs): generated, do not edit.',
  "import { createRequire as __hpsegCreateRequire } from 'node:module';",
  "import { fileURLToPath as __hpsegFileURLToPath } from 'node:url';",
  "import { dirname as __hpsegDirname } from 'node:path';",
  'const require = __hpsegCreateRequire(import.meta.url);',
  // CommonJS code's free `__filename` / `__dirname` are renamed to these (`define` below), so they
  // cannot collide with an ES module's own top-level `__dirname` (the webgpu package has one).
  'const __hpsegFilename = __hpsegFileURLToPath(import.meta.url);',
  'const __hpsegDirnameOfFile = __hpsegDirname(__hpsegFilename);',
  `const __hpsegRepoRoot = new URL(${JSON.stringify(`${repoRoot}/`)}, import.meta.url);`,
].join('\n');

console.log(`build-bundle: esbuild ${esbuild.version}, node ${process.version}, into ${rel(TREE)}`);
rmSync(OUT, { recursive: true, force: true });
mkdirSync(TREE, { recursive: true });

const started = performance.now();
const result = await esbuild
  .build({
    absWorkingDir: ROOT,
    entryPoints: [
      { in: 'tools/device/webgpu-check.ts', out: 'webgpu-check' },
      { in: 'packages/hidden-positives/src/fused/fused-worker.ts', out: 'fused-worker' },
      { in: 'packages/backbone-vit/src/tfjs-worker.ts', out: 'tfjs-worker' },
      { in: 'packages/eval/src/crf/crf-worker.ts', out: 'crf-worker' },
      ...GOLDEN.map((p) => ({ in: `golden-entry:${p}`, out: `golden-${p}` })),
    ],
    outdir: TREE,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    conditions: ['@hpseg/source'],
    alias: { vitest: join(ROOT, 'tools', 'device', 'golden-runner.ts') },
    banner: { js: banner },
    define: { __filename: '__hpsegFilename', __dirname: '__hpsegDirnameOfFile' },
    plugins: [optionalImports, onnxBinding, tfjsCoreGradients, testFileLocations, goldenEntries],
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    logOverride: { 'unsupported-require-call': 'silent' },
  })
  .catch((error) => fail(`esbuild failed: ${error.message.split('\n')[0]}`));

// Nothing may be left for Node to resolve at run time but its own modules, and the optional
// requires that packages make inside try/catch and do without.
const OPTIONAL_AT_RUN_TIME = new Set([
  'encoding', // node-fetch (tfjs-core's fetch in Node): charset conversion, only for non-UTF-8 bodies
]);
const builtins = new Set([
  ...builtinModules,
  ...builtinModules.map((m) => `node:${m}`),
  ...OPTIONAL_AT_RUN_TIME,
]);
const leftOver = new Set();
for (const output of Object.values(result.metafile.outputs)) {
  for (const imp of output.imports) if (imp.external && !builtins.has(imp.path)) leftOver.add(imp.path);
}
if (leftOver.size > 0) fail(`the bundle still imports packages at run time: ${[...leftOver].join(', ')}`);

// Every output parses (a banner name colliding with a module's own top-level name would not).
for (const file of Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js'))) {
  try {
    execFileSync(process.execPath, ['--check', join(ROOT, file)], { stdio: 'pipe' });
  } catch (error) {
    fail(`${file} does not parse: ${String(error.stderr).trim().split('\n').slice(0, 5).join(' / ')}`);
  }
}

// The native and binary files, linux-x64 only.
const natives = [];
const copy = (from, to, what) => {
  mkdirSync(dirname(join(TREE, to)), { recursive: true });
  copyFileSync(from, join(TREE, to));
  natives.push({ path: to, from: from.startsWith(ROOT) ? rel(from) : from, what });
};
copy(
  join(pkgDir('webgpu'), 'dist', PLATFORM, 'dawn.node'),
  'dist/linux-x64/dawn.node',
  `Dawn (webgpu ${versionOf('webgpu')})`,
);
const wasmDist = join(pkgDir('@tensorflow/tfjs-backend-wasm'), 'dist');
for (const f of readdirSync(wasmDist)
  .filter((f) => f.endsWith('.wasm'))
  .sort()) {
  copy(join(wasmDist, f), f, `TF.js wasm (${versionOf('@tensorflow/tfjs-backend-wasm')})`);
}
const ortBin = join(pkgDir('onnxruntime-node'), 'bin');
const napi = readdirSync(ortBin).find((d) => /^napi-v\d+$/.test(d));
if (napi === undefined) fail(`no napi-v* folder in ${rel(ortBin)}`);
for (const f of ['onnxruntime_binding.node', 'libonnxruntime.so.1']) {
  copy(
    join(ortBin, napi, 'linux', 'x64', f),
    `onnxruntime/${f}`,
    `ONNX Runtime CPU (onnxruntime-node ${versionOf('onnxruntime-node')})`,
  );
}
// The Vulkan loader of this machine (Debian libvulkan1), used on the device only when it has none.
const loader = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/lib/x86_64-linux-gnu/libvulkan.so.1'].find(
  existsSync,
);
let loaderNote = 'not bundled (no libvulkan.so.1 on the build machine)';
if (loader !== undefined) {
  let pkg = 'unknown package';
  try {
    const owner = execFileSync('dpkg', ['-S', loader], { encoding: 'utf8' }).split(':')[0];
    const format = '-f=$' + '{Version}'; // dpkg-query's field syntax, not a template placeholder
    pkg = `Debian ${owner} ${execFileSync('dpkg-query', ['-W', format, owner], { encoding: 'utf8' })}`;
  } catch {
    // not a Debian machine: the version stays unknown
  }
  copy(realpathSync(loader), 'lib/libvulkan.so.1', `Vulkan loader (${pkg}), a fallback`);
  loaderNote = pkg;
}

/** The newest GLIBC / GLIBCXX symbol version each native file needs (objdump, when available). */
function needs(file) {
  try {
    const syms = execFileSync('objdump', ['-T', file], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
    const newest = (prefix) => {
      const v = [...new Set(syms.match(new RegExp(`${prefix}_[0-9.]+`, 'g')) ?? [])].sort((a, b) =>
        a.localeCompare(b, 'en', { numeric: true }),
      );
      return v.at(-1) ?? null;
    };
    return { glibc: newest('GLIBC'), glibcxx: newest('GLIBCXX') };
  } catch {
    return { glibc: null, glibcxx: null };
  }
}
for (const n of natives) if (/\.(node|so(\.\d+)*)$/.test(n.path)) Object.assign(n, needs(join(TREE, n.path)));

let commit = null;
try {
  commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
  if (dirty) commit += ' (with uncommitted changes)';
} catch {
  // not a git checkout
}

writeFileSync(join(TREE, 'package.json'), `${JSON.stringify({ type: 'module', private: true }, null, 2)}\n`);
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else files.push(p);
  }
};
walk(TREE);
const manifest = {
  kind: 'hpseg-device-bundle',
  platform: PLATFORM,
  builtAt: new Date().toISOString(),
  commit,
  builtWith: { node: process.version, esbuild: esbuild.version },
  nodeFloor: 20,
  repoRoot,
  entry: 'webgpu-check.js',
  golden: GOLDEN.map((p) => ({ file: `packages/${p}/test/webgpu.test.ts`, bundle: `golden-${p}.js` })),
  packages: Object.fromEntries(
    [
      '@tensorflow/tfjs-core',
      '@tensorflow/tfjs-backend-wasm',
      '@tensorflow/tfjs-backend-webgpu',
      '@tensorflow/tfjs-backend-cpu',
      'webgpu',
      'onnxruntime-node',
      '@vitest/expect',
    ].map((n) => [n, versionOf(n)]),
  ),
  vulkanLoader: loaderNote,
  natives,
  files: files.map((p) => ({
    path: relative(TREE, p).split(sep).join('/'),
    bytes: statSync(p).size,
    sha256: createHash('sha256').update(readFileSync(p)).digest('hex'),
  })),
};
writeFileSync(join(TREE, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);

// Pack (gzip: every Debian-like machine has tar and gzip). Written under a temporary name, then renamed.
const partial = `${TARBALL}.partial`;
execFileSync('sh', ['-c', `tar -C "$1" -cf - "$2" | gzip -9 > "$3"`, 'sh', OUT, NAME, partial], {
  stdio: 'inherit',
});
renameSync(partial, TARBALL);

const mib = (b) => `${(b / 2 ** 20).toFixed(2)} MiB`;
const js = manifest.files.filter((f) => f.path.endsWith('.js'));
const jsBytes = js.reduce((s, f) => s + f.bytes, 0);
console.log(`\nbuilt in ${((performance.now() - started) / 1000).toFixed(1)} s; files of ${rel(TREE)}:`);
for (const f of manifest.files.filter((f) => !f.path.endsWith('.js'))) {
  console.log(`  ${f.path.padEnd(44)} ${mib(f.bytes).padStart(11)}`);
}
console.log(
  `  ${`${js.length} .js files (bundles and shared chunks)`.padEnd(44)} ${mib(jsBytes).padStart(11)}`,
);
const treeBytes =
  manifest.files.reduce((s, f) => s + f.bytes, 0) + statSync(join(TREE, 'manifest.json')).size;
const tarBytes = statSync(TARBALL).size;
console.log(`tree:    ${mib(treeBytes)} (${treeBytes} bytes) uncompressed`);
console.log(`tarball: ${mib(tarBytes)} (${tarBytes} bytes) ${rel(TARBALL)}`);
for (const n of natives.filter((n) => n.glibc)) {
  console.log(`needs:   ${n.path}: ${n.glibc}${n.glibcxx ? `, ${n.glibcxx}` : ''}`);
}
if (tarBytes > MAX_TARBALL_BYTES)
  fail(`the tarball is ${mib(tarBytes)}, over the ${mib(MAX_TARBALL_BYTES)} a device run can carry`);
console.log(`\ncarry: ["${rel(TARBALL)}"]   command: "bash tools/device/webgpu-check.sh"`);
