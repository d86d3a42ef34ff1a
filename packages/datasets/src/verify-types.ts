import type { Dataset } from './item.js';

/** One problem found by `verifyDataset`. */
export interface VerifyProblem {
  kind: 'count' | 'missing' | 'corrupt' | 'size-mismatch' | 'label-range' | 'layout';
  /** Item id (file stem) when the problem concerns one item. */
  id?: string;
  /** File concerned, when known. */
  path?: string;
  message: string;
}

/** A dataset backed by files that can check itself without crashing. */
export interface VerifiableDataset extends Dataset {
  /** Root folder the dataset was read from. */
  readonly root: string;
  /** The published size of this split, when known (e.g. COCO curated val: 2,175). */
  readonly expectedLength: number | undefined;
  /** Problems found while listing the files (unpaired images or labels, count mismatches). */
  readonly layoutProblems: readonly VerifyProblem[];
  /** Reads item `index` and returns what is wrong with it (never throws for bad files). */
  inspect(index: number): Promise<VerifyProblem[]>;
}
