import { HpError, isHpError } from '@hpseg/core';
import { type RawLabel, type RgbImage, readImageFile, readLabelPng } from './image-io.js';
import { checkIndex, type DatasetItem } from './item.js';
import { applyLabelMap, unknownRawValues } from './label-map.js';
import type { VerifiableDataset, VerifyProblem } from './verify-types.js';

/** One image file and its optional label file. */
export interface FileEntry {
  id: string;
  image: string;
  label?: string;
}

export interface FileDatasetSpec {
  name: string;
  root: string;
  numClasses: number;
  classNames: readonly string[];
  entries: readonly FileEntry[];
  expectedLength?: number;
  layoutProblems?: readonly VerifyProblem[];
  /** raw label value → class id (−1 = ignore). */
  lut: Int32Array;
  /** Raw values that legitimately mean "ignore" (not reported by verify). */
  ignoreValues: readonly number[];
  readImage?: (path: string) => Promise<RgbImage>;
  readLabel?: (path: string) => Promise<RawLabel>;
}

/** The shared implementation of every file-backed dataset: lazy decoding, mapping, self-checks. */
export function fileDataset(spec: FileDatasetSpec): VerifiableDataset {
  const readImage = spec.readImage ?? readImageFile;
  const readLabel = spec.readLabel ?? readLabelPng;
  const fn = `${spec.name}.get`;

  const readRaw = async (
    index: number,
  ): Promise<{ entry: FileEntry; img: RgbImage; raw: RawLabel | undefined }> => {
    checkIndex(fn, index, spec.entries.length);
    const entry = spec.entries[index]!;
    const [img, raw] = await Promise.all([
      readImage(entry.image),
      entry.label === undefined ? undefined : readLabel(entry.label),
    ]);
    return { entry, img, raw };
  };

  const sizeError = (entry: FileEntry, img: RgbImage, raw: RawLabel): HpError =>
    new HpError(
      'E_DATASET',
      `${fn}: image and label sizes differ for ${entry.id}: expected the label to be ${img.height}x${img.width}, got ${raw.height}x${raw.width} (${entry.label})`,
      { details: { id: entry.id, image: entry.image, label: entry.label } },
    );

  return {
    name: spec.name,
    root: spec.root,
    numClasses: spec.numClasses,
    classNames: spec.classNames,
    length: spec.entries.length,
    expectedLength: spec.expectedLength,
    layoutProblems: spec.layoutProblems ?? [],
    async get(index: number): Promise<DatasetItem> {
      const { entry, img, raw } = await readRaw(index);
      let label: Int32Array;
      if (raw === undefined) label = new Int32Array(img.height * img.width).fill(-1);
      else {
        if (raw.height !== img.height || raw.width !== img.width) throw sizeError(entry, img, raw);
        label = applyLabelMap(raw.data, spec.lut);
      }
      return { image: img.data, label, height: img.height, width: img.width, id: entry.id };
    },
    async inspect(index: number): Promise<VerifyProblem[]> {
      const entry = spec.entries[index];
      if (entry === undefined) return [{ kind: 'missing', message: `index ${index} out of range` }];
      try {
        const { img, raw } = await readRaw(index);
        if (raw === undefined) return [];
        if (raw.height !== img.height || raw.width !== img.width) {
          return [
            {
              kind: 'size-mismatch',
              id: entry.id,
              path: entry.label,
              message: sizeError(entry, img, raw).message,
            },
          ];
        }
        const unknown = unknownRawValues(raw.data, spec.lut, spec.ignoreValues);
        if (unknown.length > 0) {
          return [
            {
              kind: 'label-range',
              id: entry.id,
              path: entry.label,
              message: `label values outside the ${spec.name} label set (read as ignore): ${unknown.slice(0, 10).join(', ')}${unknown.length > 10 ? ', ...' : ''}`,
            },
          ];
        }
        return [];
      } catch (error) {
        if (!isHpError(error)) throw error;
        const path = typeof error.details?.path === 'string' ? error.details.path : undefined;
        const kind = error.code === 'E_NOT_FOUND' ? 'missing' : 'corrupt';
        return [{ kind, id: entry.id, ...(path === undefined ? {} : { path }), message: error.message }];
      }
    },
  };
}
