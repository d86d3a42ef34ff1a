#!/usr/bin/env node
// Checks that every section cited as `official-behaviour §x.y` (or `official-behaviour.md §x.y`) in the
// code, tests and tools exists as a numbered heading of docs/official-behaviour.md, that the document's
// own cross-references (`§x.y` in its text) resolve, and that no section number is used twice.
//
//   node tools/check-doc-sections.mjs                   check `official-behaviour` citations
//   node tools/check-doc-sections.mjs --name hp-reference
//                                                       also check citations under another name (e.g. the
//                                                       external spec's, before they are rewritten)
// Exit 0 when everything resolves, 1 otherwise (each unresolved citation listed as file:line).
// Plain Node ESM, no dependencies.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const docPath = join(root, 'docs', 'official-behaviour.md');
const SKIP_DIRS = new Set(['node_modules', 'dist', '.turbo', '.git', 'coverage']);
const MAX_BYTES = 2 * 1024 * 1024;
const NUM = '\\d+(?:\\.\\d+)*';

function parseArgs(argv) {
  const names = ['official-behaviour'];
  for (let k = 0; k < argv.length; k++) {
    if (argv[k] === '--name' && argv[k + 1]) names.push(argv[++k]);
    else {
      console.error(`check-doc-sections: unknown argument ${JSON.stringify(argv[k])}; expected --name NAME`);
      process.exit(2);
    }
  }
  return names;
}

/** Numbered headings (`## §3`, `### §3.10 ...`) outside fenced code blocks, with their lines. */
function readHeadings(text) {
  const headings = new Map();
  const duplicates = [];
  let fenced = false;
  text.split('\n').forEach((line, index) => {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    if (fenced) return;
    const match = new RegExp(`^#{1,6}\\s+§(${NUM})(?=\\s|$)`).exec(line);
    if (!match) return;
    if (headings.has(match[1]))
      duplicates.push(`${match[1]} (lines ${headings.get(match[1])} and ${index + 1})`);
    else headings.set(match[1], index + 1);
  });
  return { headings, duplicates };
}

/** Section numbers of one citation list: `§2, §3.1 and §4.5`, `§3.3-3.8` (both ends checked). */
function sectionsOf(list) {
  return [...list.matchAll(new RegExp(NUM, 'g'))].map((m) => m[0]);
}

const LIST = `§${NUM}(?:\\s*(?:,|and|&)\\s*§${NUM}|\\s*[-–]\\s*§${NUM}|[-–]${NUM})*`;

function citationsIn(text, names) {
  const escaped = names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
  const pattern = new RegExp(`(?:${escaped})(?:\\.md)?\\s*\\(?(${LIST})`, 'g');
  const found = [];
  for (const match of text.matchAll(pattern)) {
    const line = text.slice(0, match.index).split('\n').length;
    for (const section of sectionsOf(match[1])) found.push({ line, section });
  }
  return found;
}

function* walk(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name)) yield* walk(path);
    } else if (entry.isFile()) yield path;
  }
}

function scanRoots() {
  const dirs = [join(root, 'tools')];
  for (const group of ['packages', 'apps']) {
    let members = [];
    try {
      members = readdirSync(join(root, group), { withFileTypes: true }).filter((e) => e.isDirectory());
    } catch {}
    for (const member of members) {
      for (const sub of ['src', 'test']) dirs.push(join(root, group, member.name, sub));
    }
  }
  return dirs;
}

function readText(path) {
  if (statSync(path).size > MAX_BYTES) return null;
  const buffer = readFileSync(path);
  if (buffer.subarray(0, 8192).includes(0)) return null; // binary fixture
  return buffer.toString('utf8');
}

const names = parseArgs(process.argv.slice(2));
let docText;
try {
  docText = readFileSync(docPath, 'utf8');
} catch (error) {
  console.error(`check-doc-sections: cannot read ${relative(root, docPath)}: ${error.message}`);
  process.exit(1);
}
const { headings, duplicates } = readHeadings(docText);
const problems = duplicates.map((d) => `docs/official-behaviour.md: section §${d} is a heading twice`);

// The document's own cross-references (`§3.2`, `§3.3-3.7`) outside headings.
docText.split('\n').forEach((line, index) => {
  if (/^#{1,6}\s/.test(line)) return;
  for (const match of line.matchAll(new RegExp(LIST, 'g'))) {
    for (const section of sectionsOf(match[0])) {
      if (!headings.has(section)) problems.push(`docs/official-behaviour.md:${index + 1}: §${section}`);
    }
  }
});

let citations = 0;
let files = 0;
for (const dir of scanRoots()) {
  for (const path of walk(dir)) {
    const text = readText(path);
    if (text === null) continue;
    files++;
    for (const { line, section } of citationsIn(text, names)) {
      citations++;
      if (!headings.has(section)) problems.push(`${relative(root, path)}:${line}: §${section}`);
    }
  }
}

if (problems.length > 0) {
  console.error(
    `check-doc-sections: ${problems.length} cited section(s) missing from docs/official-behaviour.md ` +
      `(headings: ${[...headings.keys()].join(' ')}):`,
  );
  for (const problem of problems) console.error(`  ${problem}`);
  process.exit(1);
}
console.log(
  `check-doc-sections: ok, ${headings.size} numbered sections, ${citations} citation(s) ` +
    `(${names.join(', ')}) in ${files} files, all resolve`,
);
