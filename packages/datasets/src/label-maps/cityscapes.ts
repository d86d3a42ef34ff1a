/** Cityscapes labelId of class 0 (`road`); `class = labelId − 7`, labelIds 0–6 are ignored (official-behaviour §6.2). */
export const CITYSCAPES_FIRST_LABEL_ID = 7;

/** Largest Cityscapes labelId that is a class (33 = bicycle). */
export const CITYSCAPES_LAST_LABEL_ID = 33;

/** Names of the 27 Cityscapes classes in index order (official `get_class_labels`). */
// biome-ignore format: a table
export const CITYSCAPES27_CLASS_NAMES: readonly string[] = [
  'road', 'sidewalk', 'parking', 'rail track', 'building', 'wall', 'fence', 'guard rail', 'bridge',
  'tunnel', 'pole', 'polegroup', 'traffic light', 'traffic sign', 'vegetation', 'terrain', 'sky',
  'person', 'rider', 'car', 'truck', 'bus', 'caravan', 'trailer', 'train', 'motorcycle', 'bicycle',
];
