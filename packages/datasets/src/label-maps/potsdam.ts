/**
 * Potsdam 6 raw classes → 3 coarse classes (official-behaviour §6.3): `{0,4}→0` roads & cars,
 * `{1,5}→1` buildings & clutter, `{2,3}→2` vegetation & trees; 255 → −1 (ignore).
 */
export const POTSDAM_FINE_TO_COARSE: readonly number[] = [0, 1, 2, 2, 0, 1];

/** Names of the 3 Potsdam-3 classes (official `get_class_labels`). */
export const POTSDAM3_CLASS_NAMES: readonly string[] = [
  'roads and cars',
  'buildings and clutter',
  'trees and vegetation',
];

/** Names of the 6 raw ISPRS Potsdam classes in label order. */
// biome-ignore format: a table
export const POTSDAM6_CLASS_NAMES: readonly string[] = [
  'impervious surfaces', 'building', 'low vegetation', 'tree', 'car', 'clutter',
];
