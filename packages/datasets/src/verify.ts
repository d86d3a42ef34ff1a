import { HpError } from '@hpseg/core';
import type { Dataset } from './item.js';
import type { VerifiableDataset, VerifyProblem } from './verify-types.js';

export interface VerifyReport {
  ok: boolean;
  name: string;
  counts: {
    /** Items found on disk (listed). */
    found: number;
    /** Published size of the split, when known. */
    expected: number | undefined;
    /** Items actually read and checked. */
    checked: number;
    problems: number;
  };
  problems: VerifyProblem[];
}

export interface VerifyOptions {
  /** Check only the first `limit` items (the count check still uses the full listing). */
  limit?: number;
  /** Items read in parallel. Default 4. */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

function isVerifiable(d: Dataset): d is VerifiableDataset {
  return typeof (d as Partial<VerifiableDataset>).inspect === 'function';
}

/**
 * Checks a dataset without crashing: split size against the published count, unpaired or missing
 * files, undecodable files, image/label size mismatches and label values outside the label set.
 * Works on any `Dataset` (items are read with `get`) and uses the file-level checks of the
 * datasets of this package.
 */
export async function verifyDataset(dataset: Dataset, options: VerifyOptions = {}): Promise<VerifyReport> {
  const { concurrency = 4, onProgress } = options;
  const limit = options.limit === undefined ? dataset.length : Math.min(options.limit, dataset.length);
  if (!Number.isInteger(limit) || limit < 0) {
    throw new HpError(
      'E_ARG',
      `verifyDataset: limit must be a non-negative integer: expected >= 0, got ${String(options.limit)}`,
    );
  }
  const problems: VerifyProblem[] = [];
  let expected: number | undefined;
  if (isVerifiable(dataset)) {
    expected = dataset.expectedLength;
    problems.push(...dataset.layoutProblems);
    if (expected !== undefined && expected !== dataset.length) {
      problems.push({
        kind: 'count',
        message: `${dataset.name}: wrong number of items: expected ${expected}, got ${dataset.length}`,
      });
    }
  }
  const perItem: VerifyProblem[][] = new Array(limit);
  let next = 0;
  let done = 0;
  const check = async (i: number): Promise<VerifyProblem[]> => {
    if (isVerifiable(dataset)) return dataset.inspect(i);
    try {
      const item = await dataset.get(i);
      const bad = item.label.find((v) => v < -1 || v >= dataset.numClasses);
      return bad === undefined
        ? []
        : [
            {
              kind: 'label-range',
              id: item.id,
              message: `label value ${bad} outside [-1, ${dataset.numClasses})`,
            },
          ];
    } catch (error) {
      return [{ kind: 'corrupt', id: String(i), message: (error as Error).message }];
    }
  };
  const worker = async (): Promise<void> => {
    while (next < limit) {
      const i = next++;
      perItem[i] = await check(i);
      done++;
      onProgress?.(done, limit);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, limit)) }, worker));
  // A file already reported missing by the listing is not reported again when it fails to open.
  const knownMissing = new Set(
    problems.filter((p) => p.kind === 'missing' && p.path !== undefined).map((p) => p.path),
  );
  for (const p of perItem)
    if (p)
      problems.push(
        ...p.filter((q) => !(q.kind === 'missing' && q.path !== undefined && knownMissing.has(q.path))),
      );
  return {
    ok: problems.length === 0,
    name: dataset.name,
    counts: { found: dataset.length, expected, checked: limit, problems: problems.length },
    problems,
  };
}

/** A readable multi-line rendering of a verify report (at most `maxProblems` listed). */
export function formatVerifyReport(report: VerifyReport, maxProblems = 20): string {
  const { found, expected, checked, problems } = report.counts;
  const lines = [
    `${report.name}: ${report.ok ? 'OK' : 'PROBLEMS FOUND'}`,
    `  items found: ${found}${expected === undefined ? '' : ` (expected ${expected})`}, checked: ${checked}, problems: ${problems}`,
  ];
  const byKind = new Map<string, number>();
  for (const p of report.problems) byKind.set(p.kind, (byKind.get(p.kind) ?? 0) + 1);
  if (byKind.size > 0) lines.push(`  by kind: ${[...byKind].map(([k, n]) => `${k} ${n}`).join(', ')}`);
  for (const p of report.problems.slice(0, maxProblems)) {
    lines.push(`  - [${p.kind}]${p.id === undefined ? '' : ` ${p.id}:`} ${p.message}`);
  }
  if (report.problems.length > maxProblems)
    lines.push(`  ... and ${report.problems.length - maxProblems} more`);
  return lines.join('\n');
}
