import { HpError } from '@hpseg/core';
import type { Matching, SegmentationMetrics } from './metrics.js';

/** Where the numbers come from; every field is optional and only echoed into the report. */
export interface ReportProtocol {
  /** e.g. `'COCO-Stuff-27'`. */
  dataset?: string;
  /** e.g. `'val'`. */
  split?: string;
  /** Evaluated resolution, e.g. `320` or `[320, 320]` (official: 320×320 centre crop). */
  resolution?: number | readonly [number, number];
  /** What produced the predictions, e.g. `'cluster probe'` or `'linear probe'`. */
  source?: string;
  /** Whether a dense CRF was applied before scoring. */
  crf?: boolean;
  /** Free text. */
  notes?: string;
}

export interface ReportOptions {
  /** One name per class (length numClasses). Default: the class index. */
  classNames?: readonly string[];
  title?: string;
  protocol?: ReportProtocol;
  /** Also print the matched confusion matrix (rows = predicted class, columns = ground truth). */
  confusionMatrix?: boolean;
}

const MATCHING_TEXT: Record<Matching, string> = {
  hungarian: 'Hungarian, one-to-one, maximising matched pixels',
  identity: 'identity, cluster k = class k (linear probe)',
  majority: 'MAJORITY VOTE, many-to-one: each cluster -> its most frequent class (not the official protocol)',
};

function checkNames(fn: string, result: SegmentationMetrics, names: readonly string[] | undefined): string[] {
  const k = result.numClasses;
  if (names === undefined) return Array.from({ length: k }, (_, i) => String(i));
  if (!Array.isArray(names) || names.length !== k) {
    throw new HpError(
      'E_SHAPE',
      `${fn}: classNames has the wrong length: expected ${k} names, got ${Array.isArray(names) ? names.length : typeof names}`,
    );
  }
  return names.map(String);
}

const pct = (x: number): string => (Number.isNaN(x) ? 'n/a' : (100 * x).toFixed(2));

function resolutionText(r: ReportProtocol['resolution']): string | undefined {
  if (r === undefined) return undefined;
  return typeof r === 'number' ? `${r}x${r}` : `${r[0]}x${r[1]}`;
}

function ignoreRule(k: number): string {
  return `pixels with ground truth or prediction outside [0, ${k}) are dropped (official -1 / 255; predictions in extra clusters too)`;
}

function extraRuleText(result: SegmentationMetrics): string | undefined {
  if (result.numClusters <= result.numClasses || result.matching === 'majority') return undefined;
  return result.extraClusterRule === 'official'
    ? 'official: unmatched clusters form one extra row, scored as a pseudo-class in mIoU'
    : 'errors: pixels of unmatched clusters count as wrong';
}

/** Clusters mapped to each class, e.g. `['4', '0,7', '-']`. */
function clustersPerClass(result: SegmentationMetrics): string[] {
  const lists: number[][] = Array.from({ length: result.numClasses }, () => []);
  result.assignment.forEach((cls, cluster) => {
    if (cls >= 0) lists[cls]!.push(cluster);
  });
  return lists.map((l) => (l.length === 0 ? '-' : l.join(',')));
}

/** A readable plain-text report: protocol, per-class IoU with names, accuracy and mIoU (×100, 2 decimals). */
export function formatReport(result: SegmentationMetrics, options: ReportOptions = {}): string {
  const names = checkNames('formatReport', result, options.classNames);
  const k = result.numClasses;
  const p = options.protocol ?? {};
  const lines: string[] = [];
  lines.push(options.title ?? 'Segmentation evaluation');
  const where = [
    p.dataset,
    p.split,
    resolutionText(p.resolution),
    p.source,
    p.crf === undefined ? undefined : p.crf ? 'CRF' : 'no CRF',
  ]
    .filter((s) => s !== undefined)
    .join(', ');
  if (where) lines.push(`data:     ${where}`);
  lines.push(
    `matching: ${MATCHING_TEXT[result.matching]}; dataset-level, ${result.numClusters} clusters -> ${k} classes`,
  );
  const extra = extraRuleText(result);
  if (extra) lines.push(`extra clusters: ${extra}`);
  lines.push(`ignored:  ${ignoreRule(k)}`);
  lines.push(`pixels:   ${result.totalPixels} counted, ${result.matchedPixels} matched`);
  if (p.notes) lines.push(`notes:    ${p.notes}`);
  lines.push('');

  const clusters = clustersPerClass(result);
  const idxW = Math.max(1, String(k - 1).length);
  // the official pseudo-class row (Hungarian + extra clusters + official rule); n/a when it is empty
  const showUnmatched =
    result.matching === 'hungarian' && result.extraClusterRule === 'official' && result.numClusters > k;
  const nameW = Math.max(5, ...names.map((n) => n.length), showUnmatched ? 11 : 0);
  const clW = Math.max(8, ...clusters.map((c) => c.length));
  lines.push(
    `${'#'.padStart(idxW)}  ${'class'.padEnd(nameW)}  ${'IoU %'.padStart(7)}  ${'clusters'.padStart(clW)}`,
  );
  for (let j = 0; j < k; j++) {
    lines.push(
      `${String(j).padStart(idxW)}  ${names[j]!.padEnd(nameW)}  ${pct(result.perClassIoU[j]!).padStart(7)}  ${clusters[j]!.padStart(clW)}`,
    );
  }
  if (showUnmatched) {
    lines.push(
      `${''.padStart(idxW)}  ${'(unmatched)'.padEnd(nameW)}  ${pct(result.officialExtraRowIoU).padStart(7)}`,
    );
  }
  lines.push('');
  lines.push(`Accuracy  ${pct(result.accuracy)}`);
  lines.push(`mIoU      ${pct(result.mIoU)}`);

  if (options.confusionMatrix) {
    lines.push('');
    lines.push('confusion matrix after matching (rows = predicted class, columns = ground truth):');
    const cells = Array.from(result.histogram, (v) => String(v));
    const w = Math.max(idxW, ...cells.map((c) => c.length));
    lines.push(
      `${''.padStart(idxW)} ${Array.from({ length: k }, (_, j) => String(j).padStart(w)).join(' ')}`,
    );
    for (let i = 0; i < k; i++) {
      lines.push(
        `${String(i).padStart(idxW)} ${cells
          .slice(i * k, i * k + k)
          .map((c) => c.padStart(w))
          .join(' ')}`,
      );
    }
  }
  return lines.join('\n');
}

/** JSON-ready report (NaN → null) with protocol metadata and the raw `[numClusters, numClasses]` counts. */
export function toReportJson(
  result: SegmentationMetrics,
  options: Omit<ReportOptions, 'confusionMatrix'> = {},
) {
  const names = checkNames('toReportJson', result, options.classNames);
  const k = result.numClasses;
  const c = result.numClusters;
  const num = (x: number): number | null => (Number.isNaN(x) ? null : x);
  const rows = (a: Float64Array, r: number, cols: number): number[][] =>
    Array.from({ length: r }, (_, i) => Array.from(a.subarray(i * cols, i * cols + cols)));
  const p = options.protocol ?? {};
  return {
    format: 'hpseg-eval-report',
    version: 1,
    title: options.title ?? null,
    protocol: {
      matching: result.matching,
      matchingDescription: MATCHING_TEXT[result.matching],
      matchingScope: 'dataset-level: one confusion matrix accumulated over all images, matched once',
      numClusters: c,
      numClasses: k,
      extraClusters: c - k,
      extraClusterRule: extraRuleText(result) === undefined ? null : result.extraClusterRule,
      ignoreRule: ignoreRule(k),
      confusionLayout: 'rows = predicted cluster, columns = ground-truth class',
      dataset: p.dataset ?? null,
      split: p.split ?? null,
      resolution:
        p.resolution === undefined
          ? null
          : typeof p.resolution === 'number'
            ? [p.resolution, p.resolution]
            : [...p.resolution],
      source: p.source ?? null,
      crf: p.crf ?? null,
      notes: p.notes ?? null,
    },
    metrics: {
      accuracy: num(result.accuracy),
      mIoU: num(result.mIoU),
      accuracyPercent: num(Number((100 * result.accuracy).toFixed(2))),
      mIoUPercent: num(Number((100 * result.mIoU).toFixed(2))),
      matchedPixels: result.matchedPixels,
      totalPixels: result.totalPixels,
      unmatchedPixels: result.unmatchedPixels,
      officialExtraRowIoU: num(result.officialExtraRowIoU),
    },
    perClass: names.map((name, j) => ({ index: j, name, iou: num(result.perClassIoU[j]!) })),
    assignment: [...result.assignment],
    histogram: rows(result.histogram, k, k),
    counts: rows(result.counts, c, k),
  };
}

/** The JSON report type. */
export type EvalReportJson = ReturnType<typeof toReportJson>;
