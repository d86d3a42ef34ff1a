// tfjs-core's own gradient registrations, loaded by register-gradients.ts (one module, so the build
// bundles them into one chunk). Not part of the public API.
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import '@tensorflow/tfjs-core/dist/public/chained_ops/reshape.js';
