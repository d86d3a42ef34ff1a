/**
 * ImageNet channel statistics used by DINO and HP (`T.Normalize` in `dataset/data.py:44`), RGB order,
 * in [0, 1] units. The one table of hpseg: backbone-vit and datasets re-export it.
 */
export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];
