/**
 * COCO-Stuff-164k fine ids (0..181) → the 27 coarse classes of COCO-Stuff-27 (official-behaviour §6.1,
 * official `data.py:303-319`). Index = fine id. Fine id 255 (unlabelled) → -1 (ignore).
 */
// biome-ignore format: a table
export const COCO_FINE_TO_COARSE: readonly number[] = [
  9, 11, 11, 11, 11, 11, 11, 11, 11, 8, 8, 8, 8, 8, 8, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 6, 6, 6, 10, 10, 10, 10, 10, 10, 10,
  10, 10, 10, 5, 5, 5, 5, 5, 5, 5, 5, 2, 2, 2, 2, 2, 2, 2, 2, 2,
  2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 0, 0, 0, 0, 1, 1, 1,
  1, 1, 1, 4, 4, 4, 4, 4, 4, 4, 4, 17, 17, 22, 20, 20, 22, 15, 25, 16,
  13, 12, 12, 17, 17, 23, 15, 15, 17, 15, 21, 15, 25, 13, 13, 13, 13, 13, 22, 26,
  14, 14, 15, 22, 21, 21, 24, 20, 22, 15, 17, 16, 15, 22, 24, 21, 17, 25, 16, 21,
  17, 22, 16, 21, 21, 25, 21, 26, 21, 24, 20, 17, 14, 21, 26, 15, 23, 20, 21, 24,
  15, 24, 22, 25, 15, 20, 17, 17, 22, 14, 18, 18, 18, 18, 18, 18, 18, 26, 26, 19,
  19, 24,
];

/** Names of the 27 coarse classes in index order (12 things 0–11, 15 stuff 12–26). */
// biome-ignore format: a table
export const COCO27_CLASS_NAMES: readonly string[] = [
  'electronic', 'appliance', 'food', 'furniture', 'indoor', 'kitchen', 'accessory', 'animal', 'outdoor',
  'person', 'sports', 'vehicle', 'ceiling', 'floor', 'food', 'furniture', 'rawmaterial', 'textile',
  'wall', 'window', 'building', 'ground', 'plant', 'sky', 'solid', 'structural', 'water',
];

/** Number of COCO-Stuff-27 "thing" classes (0–11); stuff classes are 12–26. */
export const COCO27_FIRST_STUFF = 12;
