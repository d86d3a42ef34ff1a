import protobuf from 'protobufjs';
import { ATTR_FLOAT, ATTR_INT, ATTR_INTS, ONNX_FLOAT, ONNX_INT64, ONNX_PROTO_SUBSET } from './onnx-schema.js';
import type { BlockHostWeights, VitHostWeights } from './weights.js';

const MS_DOMAIN = 'com.microsoft';

/** Graph input / output names. */
export const ONNX_IO = {
  images: 'images', // [B, H, W, 3] float32 normalised
  posEmbed: 'pos_embed', // [1, 1 + h*w, C] interpolated positional embedding
  patchTokens: 'patch_tokens', // [B, h*w, C]
  clsToken: 'cls_token_out', // [B, C]
  attentionLogits: 'attention_logits', // [B, heads, T, T]
} as const;

export interface VitOnnxOptions {
  /** Also expose the last block's pre-softmax attention logits as a graph output. */
  attentionOutput: boolean;
  /**
   * `'ort'` (default): ONNX Runtime's fused `com.microsoft` operators `Attention` and `BiasGelu`, which its
   * CPU and CUDA providers implement. `'standard'`: standard opset-17 operators only, for other runtimes.
   * Same computation (features agree to a few 1e-6); see the package README for the measured speeds.
   */
  ops?: 'ort' | 'standard';
}

type Attr = { name: string; type: number; i?: number; f?: number; ints?: number[] };
interface Node {
  op_type: string;
  input: string[];
  output: string[];
  name: string;
  attribute: Attr[];
  domain?: string;
}
interface Initializer {
  name: string;
  dims: number[];
  data_type: number;
  raw_data?: Uint8Array;
  int64_data?: number[];
}

let modelType: protobuf.Type | undefined;
function onnxModelType(): protobuf.Type {
  modelType ??= protobuf.parse(ONNX_PROTO_SUBSET, { keepCase: true }).root.lookupType('onnx.ModelProto');
  return modelType;
}

const bytesOf = (a: Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * Builds the ONNX model (opset 17, plus `com.microsoft` 1 with `ops: 'ort'`) of the DINO ViT with the given
 * weights. Shapes are dynamic (batch and image size); the interpolated positional embedding is an input, so
 * one session serves every resolution without duplicating the weights. Layout: input NHWC, Conv patch
 * embedding in NCHW, tokens `[B, T, C]`, MatMul with pre-transposed `[in, out]` kernels, LayerNormalization.
 * With `ops: 'ort'` every block but the last runs ONNX Runtime's `Attention` (QKV projection, softmax and
 * value product in one kernel, per batch and head) and `BiasGelu`; the last block is spelled out in standard
 * ops because its logits are an output.
 */
export function buildVitOnnx(weights: VitHostWeights, options: VitOnnxOptions): Uint8Array {
  const { config } = weights;
  const C = config.embedDim;
  const p = config.patchSize;
  const heads = config.numHeads;
  const hd = C / heads;
  const hidden = C * config.mlpRatio;
  const fused = (options.ops ?? 'ort') === 'ort';
  const nodes: Node[] = [];
  const inits: Initializer[] = [];
  let counter = 0;

  const init = (name: string, dims: number[], data: Float32Array): string => {
    inits.push({ name, dims, data_type: ONNX_FLOAT, raw_data: bytesOf(data) });
    return name;
  };
  const ints = (name: string, values: number[]): string => {
    inits.push({ name, dims: [values.length], data_type: ONNX_INT64, int64_data: values });
    return name;
  };
  const scalar = (name: string, value: number): string => {
    inits.push({ name, dims: [], data_type: ONNX_FLOAT, raw_data: bytesOf(new Float32Array([value])) });
    return name;
  };
  const node = (
    op: string,
    inputs: string[],
    attrs: Attr[] = [],
    nOut = 1,
    outName?: string,
    domain = '',
  ): string[] => {
    counter += 1;
    const outputs =
      nOut === 1 && outName ? [outName] : Array.from({ length: nOut }, (_, i) => `${op}_${counter}_${i}`);
    nodes.push({
      op_type: op,
      input: inputs,
      output: outputs,
      name: `${op}_${counter}`,
      attribute: attrs,
      domain,
    });
    return outputs;
  };
  const one = (op: string, inputs: string[], attrs: Attr[] = [], outName?: string): string =>
    node(op, inputs, attrs, 1, outName)[0]!;
  /** A node of ONNX Runtime's `com.microsoft` domain. */
  const ms = (op: string, inputs: string[], attrs: Attr[]): string =>
    node(op, inputs, attrs, 1, undefined, MS_DOMAIN)[0]!;
  const intsAttr = (name: string, v: number[]): Attr => ({ name, type: ATTR_INTS, ints: v });
  const intAttr = (name: string, v: number): Attr => ({ name, type: ATTR_INT, i: v });
  const floatAttr = (name: string, v: number): Attr => ({ name, type: ATTR_FLOAT, f: v });
  const layerNorm = (x: string, w: Float32Array, b: Float32Array, prefix: string): string =>
    one(
      'LayerNormalization',
      [x, init(`${prefix}.weight`, [C], w), init(`${prefix}.bias`, [C], b)],
      [intAttr('axis', -1), floatAttr('epsilon', 1e-6)],
    );
  const matMul = (x: string, k: Float32Array, nIn: number, nOut: number, prefix: string): string =>
    one('MatMul', [x, init(`${prefix}.kernel`, [nIn, nOut], k)]);
  const bias = (b: Float32Array, n: number, prefix: string): string => init(`${prefix}.bias`, [n], b);
  const linear = (x: string, k: Float32Array, b: Float32Array, nIn: number, nOut: number, prefix: string) =>
    one('Add', [matMul(x, k, nIn, nOut, prefix), bias(b, nOut, prefix)]);

  // Shared shape constants.
  const shapeBCT = ints('shape_B_C_T', [0, C, -1]);
  const shapeHeads = ints('shape_B_T_heads_hd', [0, 0, heads, hd]);
  const shapeTokens = ints('shape_B_T_C', [0, 0, C]);
  const splitQKV = ints('split_qkv', [C, C, C]);

  /** Exact GELU, `x · 0.5 · (1 + erf(x/√2))`, in standard ops (constants shared by all blocks). */
  let geluConstants: [string, string, string] | undefined;
  const gelu = (h1: string): string => {
    geluConstants ??= [scalar('inv_sqrt2', Math.SQRT1_2), scalar('one', 1), scalar('half', 0.5)];
    const [invSqrt2, oneF, half] = geluConstants;
    const erf = one('Erf', [one('Mul', [h1, invSqrt2])]);
    return one('Mul', [one('Mul', [h1, one('Add', [erf, oneF])]), half]);
  };

  /** Self-attention spelled out, `[B, T, C]` → `[B, T, C]` before the output projection; names the logits. */
  const explicitAttention = (ln: string, b: BlockHostWeights, pre: string, logitsName?: string): string => {
    const qkv = linear(ln, b.qkvKernel, b.qkvBias, C, 3 * C, `${pre}.attn.qkv`); // [B, T, 3C]
    const [q_, k_, v_] = node('Split', [qkv, splitQKV], [intAttr('axis', 2)], 3) as [string, string, string];
    const q = one('Transpose', [one('Reshape', [q_, shapeHeads])], [intsAttr('perm', [0, 2, 1, 3])]); // [B, heads, T, hd]
    const kT = one('Transpose', [one('Reshape', [k_, shapeHeads])], [intsAttr('perm', [0, 2, 3, 1])]); // [B, heads, hd, T]
    const v = one('Transpose', [one('Reshape', [v_, shapeHeads])], [intsAttr('perm', [0, 2, 1, 3])]); // [B, heads, T, hd]
    const logits = one('MatMul', [q, kT], [], logitsName); // [B, heads, T, T], scale folded into q
    const attn = one('MatMul', [one('Softmax', [logits], [intAttr('axis', -1)]), v]); // [B, heads, T, hd]
    return one('Reshape', [one('Transpose', [attn], [intsAttr('perm', [0, 2, 1, 3])]), shapeTokens]); // [B, T, C]
  };

  // Patch embedding: NHWC → NCHW, Conv(k = stride = p) → [B, C, h, w] → [B, h*w, C].
  const nchw = one('Transpose', [ONNX_IO.images], [intsAttr('perm', [0, 3, 1, 2])]);
  const conv = one(
    'Conv',
    [
      nchw,
      init('patch_embed.proj.weight', [C, 3, p, p], weights.patchKernelOIHW),
      init('patch_embed.proj.bias', [C], weights.patchBias),
    ],
    [intsAttr('kernel_shape', [p, p]), intsAttr('strides', [p, p])],
  );
  const tokens = one('Transpose', [one('Reshape', [conv, shapeBCT])], [intsAttr('perm', [0, 2, 1])]); // [B, hw, C]
  // CLS token broadcast to [B, 1, C]: Expand to (B, 1, C) with B read from the input shape.
  const batch = one('Slice', [one('Shape', [ONNX_IO.images]), ints('zero1', [0]), ints('one1', [1])]);
  const clsShape = one('Concat', [batch, ints('one_C', [1, C])], [intAttr('axis', 0)]);
  const cls = one('Expand', [init('cls_token', [1, 1, C], weights.clsToken), clsShape]);
  let x = one('Add', [one('Concat', [cls, tokens], [intAttr('axis', 1)]), ONNX_IO.posEmbed]); // [B, T, C]

  weights.blocks.forEach((b, l) => {
    const pre = `blocks.${l}`;
    const last = l === weights.blocks.length - 1;
    const ln1 = layerNorm(x, b.norm1Weight, b.norm1Bias, `${pre}.norm1`);
    // The last block's attention stays spelled out: its logits are a graph output.
    const attn =
      fused && !last
        ? ms(
            'Attention',
            [
              ln1,
              init(`${pre}.attn.qkv.kernel`, [C, 3 * C], b.qkvKernel),
              bias(b.qkvBias, 3 * C, `${pre}.attn.qkv`),
            ],
            [intAttr('num_heads', heads), floatAttr('scale', 1)], // q is pre-scaled
          )
        : explicitAttention(
            ln1,
            b,
            pre,
            last && options.attentionOutput ? ONNX_IO.attentionLogits : undefined,
          );
    x = one('Add', [x, linear(attn, b.projKernel, b.projBias, C, C, `${pre}.attn.proj`)]);
    const ln2 = layerNorm(x, b.norm2Weight, b.norm2Bias, `${pre}.norm2`);
    const hiddenAct = fused
      ? ms(
          'BiasGelu',
          [matMul(ln2, b.fc1Kernel, C, hidden, `${pre}.mlp.fc1`), bias(b.fc1Bias, hidden, `${pre}.mlp.fc1`)],
          [],
        )
      : gelu(linear(ln2, b.fc1Kernel, b.fc1Bias, C, hidden, `${pre}.mlp.fc1`));
    x = one('Add', [x, linear(hiddenAct, b.fc2Kernel, b.fc2Bias, hidden, C, `${pre}.mlp.fc2`)]);
  });
  const y = layerNorm(x, weights.normWeight, weights.normBias, 'norm'); // [B, T, C]

  one('Gather', [y, ints('index0', [0])], [intAttr('axis', 1)], `${ONNX_IO.clsToken}_3d`); // [B, 1, C]
  one('Reshape', [`${ONNX_IO.clsToken}_3d`, ints('shape_B_C', [0, C])], [], ONNX_IO.clsToken); // [B, C]
  one(
    'Slice',
    [y, ints('one_start', [1]), ints('big_end', [2 ** 53 - 1]), ints('axis1', [1])],
    [],
    ONNX_IO.patchTokens,
  ); // [B, hw, C]

  const valueInfo = (name: string, dims: (number | string)[]) => ({
    name,
    type: {
      tensor_type: {
        elem_type: ONNX_FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) },
      },
    },
  });
  const outputs = [valueInfo(ONNX_IO.patchTokens, ['B', 'hw', C]), valueInfo(ONNX_IO.clsToken, ['B', C])];
  if (options.attentionOutput) outputs.push(valueInfo(ONNX_IO.attentionLogits, ['B', heads, 'T', 'T']));
  const model = {
    ir_version: 8,
    producer_name: '@hpseg/backbone-vit',
    producer_version: '0.1.0',
    opset_import: fused
      ? [
          { domain: '', version: 17 },
          { domain: MS_DOMAIN, version: 1 },
        ]
      : [{ domain: '', version: 17 }],
    graph: {
      name: 'dino_vit',
      node: nodes,
      initializer: inits,
      input: [valueInfo(ONNX_IO.images, ['B', 'H', 'W', 3]), valueInfo(ONNX_IO.posEmbed, [1, 'T', C])],
      output: outputs,
    },
  };
  const type = onnxModelType();
  return type.encode(type.fromObject(model)).finish();
}

/** The graph input / output names of `buildGemmOnnx`. */
export const GEMM_IO = { a: 'A', b: 'B', bias: 'C', y: 'Y' } as const;

/**
 * A one-node ONNX model (opset 17) of `Gemm`: `Y = op(A) @ op(B) (+ C)` with the given transpose flags,
 * dynamic sizes and, with `bias`, a `[cols]` row vector `C` broadcast to every row. `createOnnxMatMul` runs
 * it as the host matrix product of the heads.
 */
export function buildGemmOnnx(transA: boolean, transB: boolean, bias: boolean): Uint8Array {
  const valueInfo = (name: string, dims: string[]) => ({
    name,
    type: { tensor_type: { elem_type: ONNX_FLOAT, shape: { dim: dims.map((d) => ({ dim_param: d })) } } },
  });
  const inputs = [
    valueInfo(GEMM_IO.a, transA ? ['k', 'm'] : ['m', 'k']),
    valueInfo(GEMM_IO.b, transB ? ['n', 'k'] : ['k', 'n']),
  ];
  if (bias) inputs.push(valueInfo(GEMM_IO.bias, ['n']));
  const model = {
    ir_version: 8,
    producer_name: '@hpseg/backbone-vit',
    producer_version: '0.1.0',
    opset_import: [{ domain: '', version: 17 }],
    graph: {
      name: 'gemm',
      node: [
        {
          op_type: 'Gemm',
          name: 'gemm',
          input: inputs.map((i) => i.name),
          output: [GEMM_IO.y],
          attribute: [
            { name: 'transA', type: ATTR_INT, i: transA ? 1 : 0 },
            { name: 'transB', type: ATTR_INT, i: transB ? 1 : 0 },
          ],
        },
      ],
      initializer: [],
      input: inputs,
      output: [valueInfo(GEMM_IO.y, ['m', 'n'])],
    },
  };
  const type = onnxModelType();
  return type.encode(type.fromObject(model)).finish();
}
