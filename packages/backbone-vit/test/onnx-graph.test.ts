import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import type { VitConfig } from '../src/index.js';
import { buildVitOnnx, loadBackbone, randomVitWeights, toVitHostWeights } from '../src/index.js';
import { ONNX_PROTO_SUBSET } from '../src/onnx-schema.js';

const TINY: VitConfig = { embedDim: 16, depth: 2, numHeads: 2, patchSize: 4, trainedGrid: 3, mlpRatio: 4 };

interface Decoded {
  ir_version: number;
  opset_import: { domain: string; version: number }[];
  graph: {
    node: { op_type: string; domain: string }[];
    initializer: { name: string; dims: number[] }[];
    input: { name: string }[];
    output: { name: string }[];
  };
}

function decode(bytes: Uint8Array): Decoded {
  const type = protobuf.parse(ONNX_PROTO_SUBSET, { keepCase: true }).root.lookupType('onnx.ModelProto');
  return type.toObject(type.decode(bytes), { longs: Number, defaults: true }) as Decoded;
}

describe('buildVitOnnx', () => {
  const weights = toVitHostWeights(randomVitWeights(TINY, 5), TINY);

  it('standard ops: an opset-17 graph with the expected inputs, outputs and fast ops only', () => {
    const model = decode(buildVitOnnx(weights, { attentionOutput: true, ops: 'standard' }));
    expect(model.ir_version).toBe(8);
    expect(model.opset_import).toEqual([{ domain: '', version: 17 }]);
    expect(model.graph.input.map((i) => i.name)).toEqual(['images', 'pos_embed']);
    expect(model.graph.output.map((o) => o.name)).toEqual([
      'patch_tokens',
      'cls_token_out',
      'attention_logits',
    ]);
    const ops = new Set(model.graph.node.map((n) => n.op_type));
    const allowed = [
      'Transpose',
      'Conv',
      'Reshape',
      'Shape',
      'Slice',
      'Concat',
      'Expand',
      'Add',
      'Mul',
      'LayerNormalization',
      'MatMul',
      'Split',
      'Softmax',
      'Erf',
      'Gather',
    ];
    expect([...ops].filter((op) => !allowed.includes(op))).toEqual([]);
    expect(model.graph.node.filter((n) => n.op_type === 'LayerNormalization')).toHaveLength(
      2 * TINY.depth + 1,
    );
    // Linear kernels are stored pre-transposed [in, out].
    const fc1 = model.graph.initializer.find((t) => t.name === 'blocks.1.mlp.fc1.kernel')!;
    expect(fc1.dims).toEqual([16, 64]);
  });

  it('ort ops (default): Attention in every block but the last, BiasGelu in every block, no Erf', () => {
    const model = decode(buildVitOnnx(weights, { attentionOutput: true }));
    expect(model.opset_import).toEqual([
      { domain: '', version: 17 },
      { domain: 'com.microsoft', version: 1 },
    ]);
    const count = (op: string, domain: string) =>
      model.graph.node.filter((n) => n.op_type === op && n.domain === domain).length;
    expect(count('Attention', 'com.microsoft')).toBe(TINY.depth - 1);
    expect(count('BiasGelu', 'com.microsoft')).toBe(TINY.depth);
    expect(count('Erf', '')).toBe(0);
    // The last block's attention is spelled out: its logits are the named output.
    expect(count('Softmax', '')).toBe(1);
    expect(model.graph.output.map((o) => o.name)).toContain('attention_logits');
  });

  it('without the attention output the logits are an internal value', () => {
    const model = decode(buildVitOnnx(weights, { attentionOutput: false }));
    expect(model.graph.output.map((o) => o.name)).toEqual(['patch_tokens', 'cls_token_out']);
  });

  it('an execution provider ONNX Runtime does not have → E_BACKEND', async () => {
    await expect(
      loadBackbone(randomVitWeights(TINY, 5), {
        engine: 'onnx',
        numHeads: 2,
        executionProviders: ['no-such-ep'],
      }),
    ).rejects.toMatchObject({ code: 'E_BACKEND', message: expect.stringContaining('ONNX Runtime refused') });
  });
});
