#!/usr/bin/env node
/**
 * Packaging test: how researchers consume single packages.
 *
 * 1. builds @hpseg/core and @hpseg/eval with tsup and checks dist/index.js + dist/index.d.ts;
 * 2. checks `npm pack --dry-run` of every workspace package: only dist/, README.md, LICENSE,
 *    package.json (+ CHANGELOG.md, + the files named in `bin`);
 * 3. packs core and eval, installs both tarballs into a temporary project outside the workspace
 *    (os.tmpdir(); offline-friendly), type-checks a consumer file against the published .d.ts;
 * 4. runs the eval README example there as example.mjs (cut from README.md between the markers) and
 *    compares its stdout with the output block of the README.
 * Exits non-zero on any difference. Usage: npm run test:pack [-- --keep]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep');
const failures = [];

function log(msg) {
  console.log(`[pack-test] ${msg}`);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.status !== 0) {
    console.error(r.stdout);
    console.error(r.stderr);
    throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}`);
  }
  return r.stdout;
}

/** The fenced block between `<!-- name:start -->` and `<!-- name:end -->` of a README. */
function readmeBlock(readme, name) {
  const m = readme.match(
    new RegExp(`<!-- ${name}:start -->\\s*\`\`\`\\w*\\n([\\s\\S]*?)\`\`\`\\s*<!-- ${name}:end -->`),
  );
  if (!m) throw new Error(`README.md has no ${name} block`);
  return m[1];
}

function workspaceDirs() {
  const dirs = [];
  for (const group of ['packages', 'apps']) {
    const base = join(root, group);
    if (!existsSync(base)) continue;
    for (const d of readdirSync(base)) {
      if (existsSync(join(base, d, 'package.json'))) dirs.push(join(base, d));
    }
  }
  return dirs;
}

// --- 1. build ---------------------------------------------------------------------------------
log('building @hpseg/core and @hpseg/eval');
run('npm', ['run', 'build', '-w', '@hpseg/core', '-w', '@hpseg/eval']);
for (const pkg of ['core', 'eval']) {
  for (const f of ['dist/index.js', 'dist/index.d.ts']) {
    if (!existsSync(join(root, 'packages', pkg, f))) failures.push(`packages/${pkg}/${f} was not built`);
  }
}

// --- 2. tarball contents of every package -----------------------------------------------------
for (const dir of workspaceDirs()) {
  const pj = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (pj.private) continue;
  const bins = new Set(
    Object.values(typeof pj.bin === 'string' ? { x: pj.bin } : (pj.bin ?? {})).map((p) =>
      p.replace(/^\.\//, ''),
    ),
  );
  const [info] = JSON.parse(run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: dir }));
  const files = info.files.map((f) => f.path);
  const allowed = (p) =>
    p.startsWith('dist/') ||
    ['README.md', 'LICENSE', 'package.json', 'CHANGELOG.md'].includes(p) ||
    bins.has(p) ||
    [...bins].some((b) => p.startsWith(`${dirname(b)}/`) && dirname(b) !== '.');
  const bad = files.filter((p) => !allowed(p));
  const where = relative(root, dir);
  if (bad.length > 0) failures.push(`${where}: npm pack would ship unexpected files: ${bad.join(', ')}`);
  for (const must of ['README.md', 'LICENSE', 'package.json']) {
    if (!files.includes(must)) failures.push(`${where}: npm pack would not ship ${must}`);
  }
  log(
    `${pj.name}: ${files.length} files in the tarball (${files.filter((p) => !p.startsWith('dist/')).join(', ')} + dist)`,
  );
}

// --- 3. pack and install outside the workspace ------------------------------------------------
const tmp = mkdtempSync(join(tmpdir(), 'hpseg-pack-'));
try {
  const packDir = join(tmp, 'tarballs');
  const project = join(tmp, 'consumer');
  run('mkdir', ['-p', packDir, project]);
  const packed = JSON.parse(
    run('npm', [
      'pack',
      '--json',
      '--ignore-scripts',
      '--pack-destination',
      packDir,
      '-w',
      '@hpseg/core',
      '-w',
      '@hpseg/eval',
    ]),
  );
  const tarballs = packed.map((p) => join(packDir, p.filename));
  log(`packed ${packed.map((p) => p.filename).join(', ')}`);

  writeFileSync(
    join(project, 'package.json'),
    `${JSON.stringify({ name: 'hpseg-pack-consumer', private: true, type: 'module' }, null, 2)}\n`,
  );
  log(`installing the tarballs into ${project}`);
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs], {
    cwd: project,
  });

  // Types: a consumer file compiled against the published .d.ts (no source condition here).
  writeFileSync(
    join(project, 'check.ts'),
    [
      "import { computeMetrics, createConfusionMatrix, formatReport, type SegmentationMetrics } from '@hpseg/eval';",
      "import { HpError } from '@hpseg/core';",
      'const m = createConfusionMatrix({ numClasses: 2 });',
      'm.update(Int32Array.from([0, 1]), Uint8Array.from([0, 1]));',
      'const r: SegmentationMetrics = computeMetrics(m, { matching: "hungarian" });',
      'const s: string = formatReport(r);',
      'const e: HpError | undefined = undefined;',
      'export { e, s };',
      '',
    ].join('\n'),
  );
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  run(
    process.execPath,
    [
      tsc,
      '--noEmit',
      '--strict',
      '--skipLibCheck',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'es2022',
      '--types',
      'node',
      '--typeRoots',
      join(root, 'node_modules', '@types'),
      'check.ts',
    ],
    { cwd: project },
  );
  log('published type declarations resolve and type-check');

  // --- 4. the README example -------------------------------------------------------------------
  const readme = readFileSync(join(root, 'packages', 'eval', 'README.md'), 'utf8');
  writeFileSync(join(project, 'example.mjs'), readmeBlock(readme, 'example'));
  const expected = readmeBlock(readme, 'output');
  const got = spawnSync(process.execPath, ['example.mjs'], { cwd: project, encoding: 'utf8' });
  if (got.status !== 0) {
    failures.push(`example.mjs exited with ${got.status}:\n${got.stderr}`);
  } else if (got.stdout !== expected) {
    const a = expected.split('\n');
    const b = got.stdout.split('\n');
    const diff = [];
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (a[i] !== b[i])
        diff.push(`line ${i + 1}:\n  README : ${JSON.stringify(a[i])}\n  printed: ${JSON.stringify(b[i])}`);
    }
    failures.push(`the README example printed something else than README.md shows:\n${diff.join('\n')}`);
  } else {
    log(
      `README example ran from the tarballs and printed the ${expected.split('\n').length - 1} README lines`,
    );
  }
} finally {
  if (keep) log(`kept ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
}

if (failures.length > 0) {
  console.error(`[pack-test] FAILED:\n- ${failures.join('\n- ')}`);
  process.exit(1);
}
log('ok');
