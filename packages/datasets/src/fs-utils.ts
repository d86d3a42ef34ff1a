import { readdir, readFile, stat } from 'node:fs/promises';
import { HpError } from '@hpseg/core';

/** Throws `E_NOT_FOUND` with the expected layout as hint when `dir` is not a folder. */
export async function requireDir(fn: string, dir: string, what: string, layout: string): Promise<void> {
  let ok = false;
  try {
    ok = (await stat(dir)).isDirectory();
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new HpError(
      'E_NOT_FOUND',
      `${fn}: ${what} not found: expected a folder at ${dir}, got nothing. Expected layout:\n${layout}`,
      {
        hint: layout,
        details: { path: dir },
      },
    );
  }
}

/** True when `path` exists and is a non-empty file. */
export async function isNonEmptyFile(path: string): Promise<boolean> {
  try {
    const s = await stat(path);
    return s.isFile() && s.size > 0;
  } catch {
    return false;
  }
}

/** Names in a folder (sorted), or `[]` when it does not exist. */
export async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch {
    return [];
  }
}

/** Lines of a list file (trailing whitespace stripped, empty lines dropped), `E_NOT_FOUND` if absent. */
export async function readListFile(fn: string, path: string, layout: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new HpError(
      'E_NOT_FOUND',
      `${fn}: split list not found: expected ${path}, got nothing. Expected layout:\n${layout}`,
      {
        hint: layout,
        details: { path },
      },
    );
  }
  return text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.length > 0);
}

export function checkSplit(fn: string, split: unknown): asserts split is 'train' | 'val' {
  if (split !== 'train' && split !== 'val') {
    throw new HpError(
      'E_ARG',
      `${fn}: unknown split: expected 'train' or 'val', got ${JSON.stringify(split)}`,
    );
  }
}

/** `isNonEmptyFile` for many paths, `concurrency` stats at a time (listing 100k files stays quick). */
export async function nonEmptyFiles(paths: readonly string[], concurrency = 32): Promise<boolean[]> {
  const out = new Array<boolean>(paths.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < paths.length) {
      const i = next++;
      out[i] = await isNonEmptyFile(paths[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, paths.length)) }, worker));
  return out;
}

/** Layout problems for listed entries whose image or label file is missing. */
export async function missingFileProblems(
  entries: readonly { id: string; image: string; label?: string }[],
): Promise<{ kind: 'missing'; id: string; path: string; message: string }[]> {
  const images = await nonEmptyFiles(entries.map((e) => e.image));
  const labels = await nonEmptyFiles(entries.map((e) => e.label ?? e.image));
  const problems: { kind: 'missing'; id: string; path: string; message: string }[] = [];
  entries.forEach((e, i) => {
    if (!images[i])
      problems.push({
        kind: 'missing',
        id: e.id,
        path: e.image,
        message: `image missing for listed id ${e.id}`,
      });
    if (e.label !== undefined && !labels[i])
      problems.push({
        kind: 'missing',
        id: e.id,
        path: e.label,
        message: `label missing for listed id ${e.id}`,
      });
  });
  return problems;
}
