import type { CommandSpec, FlagSpec } from '../args.js';

/** `--loss-engine` of the commands that train. */
const LOSS_ENGINE_FLAG: FlagSpec = {
  type: 'string',
  value: 'auto|fused|tfjs',
  description:
    'engine of the HP loss: auto = the fused WebAssembly engine on the wasm and cpu backends (every core), TF.js ops on the others',
  default: 'auto',
};

/** `--matmul-engine` of the commands that train. */
const MATMUL_ENGINE_FLAG: FlagSpec = {
  type: 'string',
  value: 'auto|onnx|tfjs',
  description:
    "engine of the heads' matrix products: auto = ONNX Runtime's multi-threaded Gemm on the wasm and cpu backends when onnxruntime-node is installed, tf.matMul otherwise",
  default: 'auto',
};

/** Flags shared by the commands that run models. */
export const COMMON_FLAGS: Readonly<Record<string, FlagSpec>> = {
  backend: {
    type: 'string',
    value: 'auto|wasm|cpu|webgpu|tensorflow|tensorflow-gpu|<registered>',
    description: 'TF.js backend for the head and losses (any backend registered with TF.js is accepted)',
    default: 'auto',
  },
  engine: {
    type: 'string',
    value: 'onnx|tfjs',
    description: 'backbone engine (ONNX Runtime CPU, CUDA EP when installed; or TF.js)',
    default: 'onnx',
  },
  seed: { type: 'string', value: 'n', description: 'seed of every random draw', default: '0' },
  json: { type: 'boolean', description: 'print a machine-readable JSON summary on stdout' },
};

/** `--vit-heads`: the head count is not stored in the weights (DINO: width / 64). */
const VIT_HEADS_FLAG: FlagSpec = {
  type: 'string',
  value: 'n',
  description: 'attention heads of the ViT (default width/64, right for DINO)',
};

/** `--augment`: how the photometric view is made. */
const AUGMENT_FLAG: FlagSpec = {
  type: 'string',
  value: 'image|official',
  description:
    "photometric view: 'image' = augment then normalise (correct); 'official' = augment the normalised tensor and clamp, as the official code",
  default: 'image',
};

const DATA_FLAGS: Readonly<Record<string, FlagSpec>> = {
  preset: {
    type: 'string',
    value: 'cocostuff27|cityscapes|potsdam|synthetic',
    description: 'official configuration and dataset (synthetic: generated, no files)',
  },
  'data-dir': { type: 'string', value: 'dir', description: 'dataset folder in its official layout' },
};

export const TRAIN_SPEC: CommandSpec = {
  name: 'train',
  summary: 'train the HP head with the official loop',
  usage:
    'hpseg train --preset <p> --data-dir <dir> --weights <file> --out <run> [options]\n       hpseg train --resume <run>',
  flags: {
    ...DATA_FLAGS,
    config: {
      type: 'string',
      value: 'file.json',
      description: 'config overrides (our fields or an official HP JSON)',
    },
    weights: { type: 'string', value: 'file', description: 'DINO backbone weights (.pth or .safetensors)' },
    out: { type: 'string', value: 'run', description: 'run folder (checkpoints, log.jsonl, config.json)' },
    resume: {
      type: 'string',
      value: 'run',
      description: 'continue a run from its last checkpoint, bit-identically',
    },
    iterations: {
      type: 'string',
      value: 'n',
      description:
        'length of the whole schedule; λ reaches 1 at its end (default: epochs × batches per epoch)',
    },
    'stop-at': {
      type: 'string',
      value: 'n',
      description: 'stop with a checkpoint when the iteration counter reaches n (resume later with --resume)',
    },
    'select-best': {
      type: 'boolean',
      description: 'also keep `best` by validation metrics (uses validation LABELS, as the official code)',
    },
    'feature-cache': { type: 'string', value: 'dir', description: 'train from a `hpseg features` cache' },
    'cached-aug-views': {
      type: 'string',
      value: 'K',
      description: 'take the augmented view from K cached views (approximation; default: online)',
    },
    'vit-heads': VIT_HEADS_FLAG,
    augment: AUGMENT_FLAG,
    'loss-engine': LOSS_ENGINE_FLAG,
    'matmul-engine': MATMUL_ENGINE_FLAG,
    ...COMMON_FLAGS,
  },
  notes:
    'Ctrl-C finishes the current step, writes the `last` checkpoint and exits (code 130).\nA non-finite loss stops the run and keeps the last good checkpoint (code 7).',
};

export const FEATURES_SPEC: CommandSpec = {
  name: 'features',
  summary: 'precompute main-view backbone features and LHP weights (float16 chunks + manifest)',
  usage: 'hpseg features --preset <p> --data-dir <dir> --weights <file> --out <cache> [--aug-views K]',
  flags: {
    ...DATA_FLAGS,
    config: { type: 'string', value: 'file.json', description: 'config overrides' },
    weights: { type: 'string', value: 'file', description: 'DINO backbone weights' },
    out: { type: 'string', value: 'dir', description: 'cache folder' },
    'aug-views': {
      type: 'string',
      value: 'K',
      description: 'also cache K augmented views per image',
      default: '0',
    },
    'chunk-size': { type: 'string', value: 'n', description: 'images per chunk file', default: '256' },
    'vit-heads': VIT_HEADS_FLAG,
    augment: AUGMENT_FLAG,
    ...COMMON_FLAGS,
  },
};

export const EVAL_SPEC: CommandSpec = {
  name: 'eval',
  summary: 'official evaluation (320 px, bilinear codes, Hungarian clusters, linear probe)',
  usage: 'hpseg eval --checkpoint <file> --preset <p|folder> --data-dir <dir> [--crf] [--out report.json]',
  notes:
    'preset folder: <data-dir>/images/*.{png,jpg} with <data-dir>/labels/<name>.png (class ids, 255 = ignore).',
  flags: {
    ...DATA_FLAGS,
    checkpoint: {
      type: 'string',
      value: 'file',
      description: 'our checkpoint (.safetensors) or an official HP ckpt.pth (backbone from model.*)',
    },
    weights: {
      type: 'string',
      value: 'file',
      description: 'backbone weights (default: the ones recorded in our checkpoint, or model.* of ckpt.pth)',
    },
    crf: { type: 'boolean', description: 'also report metrics after the dense CRF, side by side' },
    'vit-heads': {
      type: 'string',
      value: 'n',
      description: 'attention heads of the ViT (not in the weights; default width/64, right for DINO)',
    },
    out: { type: 'string', value: 'file.json', description: 'where to write the JSON report' },
    resolution: { type: 'string', value: 'px', description: 'evaluation size', default: '320' },
    'batch-size': { type: 'string', value: 'n', description: 'images per forward', default: '8' },
    limit: { type: 'string', value: 'n', description: 'evaluate only the first n images' },
    'save-predictions': {
      type: 'string',
      value: 'dir',
      description: 'write raw cluster / linear predictions as 8-bit PNGs (<id>.cluster.png, <id>.linear.png)',
    },
    ...COMMON_FLAGS,
  },
};

export const SEGMENT_SPEC: CommandSpec = {
  name: 'segment',
  summary: 'colour-coded label PNGs and overlays for images of any size',
  usage: 'hpseg segment <img...> --checkpoint <file> --out <dir> [--probe cluster|linear]',
  positionals: true,
  flags: {
    checkpoint: { type: 'string', value: 'file', description: 'our checkpoint or an official HP ckpt.pth' },
    weights: {
      type: 'string',
      value: 'file',
      description: 'backbone weights (default: from the checkpoint)',
    },
    'vit-heads': VIT_HEADS_FLAG,
    out: { type: 'string', value: 'dir', description: 'output folder' },
    probe: {
      type: 'string',
      value: 'cluster|linear',
      description: 'which probe labels the pixels',
      default: 'cluster',
    },
    fit: {
      type: 'string',
      value: 'pad|resize',
      description: 'how images reach a multiple of the patch size',
      default: 'pad',
    },
    'max-side': {
      type: 'string',
      value: 'px',
      description: 'downscale larger images first (keeps aspect)',
      default: '640',
    },
    ...COMMON_FLAGS,
  },
  notes:
    'Writes <name>.labels.png (colour per class), <name>.overlay.png (50% blend over the image) and legend.json/legend.png when class names are known. Outputs have the input size.',
};

export const WEIGHTS_FETCH_SPEC: CommandSpec = {
  name: 'weights fetch',
  summary: 'download DINO weights (resume, atomic rename, checks)',
  usage: 'hpseg weights fetch <vits16|vits8|vitb16|vitb8> [--out dir]',
  positionals: true,
  flags: {
    out: { type: 'string', value: 'dir', description: 'where to store the file', default: '~/.cache/hpseg' },
    url: { type: 'string', value: 'url', description: 'download from this URL instead of the preset' },
  },
};

export const WEIGHTS_INSPECT_SPEC: CommandSpec = {
  name: 'weights inspect',
  summary: 'print the inferred architecture and the tensors of a checkpoint',
  usage: 'hpseg weights inspect <file> [--json]',
  positionals: true,
  flags: { json: { type: 'boolean', description: 'machine-readable output' } },
};

export const DATA_VERIFY_SPEC: CommandSpec = {
  name: 'data verify',
  summary: 'check a dataset against its official layout and sizes',
  usage: 'hpseg data verify --preset <p> --data-dir <dir> [--json]',
  flags: { ...DATA_FLAGS, json: { type: 'boolean', description: 'machine-readable report' } },
};

export const DATA_PREPARE_SPEC: CommandSpec = {
  name: 'data prepare',
  summary: 'write the five-crop training set (cropped/<name>_five_crop_0.5)',
  usage: 'hpseg data prepare --preset <cocostuff27|cityscapes> --data-dir <dir> [--split train|val]',
  flags: {
    ...DATA_FLAGS,
    split: { type: 'string', value: 'train|val', description: 'split to crop', default: 'train' },
  },
};

export const DEMO_SPEC: CommandSpec = {
  name: 'demo',
  summary: 'synthetic data + random ViT: k-means baseline vs HP training (no download)',
  usage: 'hpseg demo [--out dir] [--iterations n] [--json]',
  flags: {
    out: {
      type: 'string',
      value: 'dir',
      description: 'where the PNGs and the run go',
      default: './hpseg-demo',
    },
    iterations: { type: 'string', value: 'n', description: 'HP training iterations', default: '300' },
    classes: { type: 'string', value: 'K', description: 'synthetic classes (2-12)', default: '8' },
    config: {
      type: 'string',
      value: 'file.json',
      description: 'overrides of the demo configuration (camelCase)',
    },
    'loss-engine': LOSS_ENGINE_FLAG,
    'matmul-engine': MATMUL_ENGINE_FLAG,
    ...COMMON_FLAGS,
  },
  notes:
    'The backbone is a small RANDOMLY initialised ViT: the numbers show the pipeline works, not what HP achieves. Real results need DINO weights (hpseg weights fetch vits8).',
};
