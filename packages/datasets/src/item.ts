import { HpError } from '@hpseg/core';

/**
 * One image with its label map, the uniform currency of every dataset in this package.
 * `image` is `[H, W, 3]` RGB uint8 (row-major, channels last); `label` is `[H, W]` class ids in
 * `0..numClasses-1`, with `-1` for "ignore" (unlabelled pixels, void classes).
 */
export interface DatasetItem {
  /** `[H, W, 3]` RGB, 0..255. */
  image: Uint8Array;
  /** `[H, W]` class ids, `-1` = ignore. */
  label: Int32Array;
  height: number;
  width: number;
  /** Stable identifier (file stem or index), for reports and warnings. */
  id: string;
}

/** Random access to a list of items. `get` decodes lazily; it rejects with an `HpError` on bad files. */
export interface Dataset {
  readonly name: string;
  readonly numClasses: number;
  readonly classNames: readonly string[];
  readonly length: number;
  get(index: number): Promise<DatasetItem>;
}

/** Throws `E_ARG` unless `index` is an integer in `[0, length)`. */
export function checkIndex(fn: string, index: number, length: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= length) {
    throw new HpError(
      'E_ARG',
      `${fn}: index out of range: expected an integer in [0, ${length}), got ${String(index)}`,
    );
  }
}

/** Checks that the arrays of an item agree with its `height` and `width`. */
export function assertItem(fn: string, item: DatasetItem): void {
  const { height, width } = item;
  if (!Number.isInteger(height) || !Number.isInteger(width) || height <= 0 || width <= 0) {
    throw new HpError(
      'E_SHAPE',
      `${fn}: item ${item.id} has a bad size: expected positive integers, got ${height}x${width}`,
    );
  }
  if (item.image.length !== height * width * 3) {
    throw new HpError(
      'E_SHAPE',
      `${fn}: item ${item.id} image has the wrong length: expected ${height}*${width}*3 = ${height * width * 3}, got ${item.image.length}`,
    );
  }
  if (item.label.length !== height * width) {
    throw new HpError(
      'E_SHAPE',
      `${fn}: item ${item.id} label has the wrong length: expected ${height}*${width} = ${height * width}, got ${item.label.length}`,
    );
  }
}
