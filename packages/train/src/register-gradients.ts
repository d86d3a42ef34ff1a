/**
 * `import '@hpseg/train/register-gradients'` registers TF.js's gradient functions with the engine of the
 * program's `@tensorflow/tfjs-core`, in plain Node, with one import: the entry of `@hpseg/core` (see its
 * source for why tfjs-core's own file needs bundling). `train`, `createTrainer` and `openRun` do it
 * themselves; code that calls `trainStep` / `stepGradients` directly imports this once.
 */
import '@hpseg/core/register-gradients';
