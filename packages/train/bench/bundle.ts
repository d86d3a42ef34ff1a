/**
 * The tensors both sides of the step benchmark start from, written for the PyTorch script
 * (tools/bench/torch_train_step.py `read_bundle`): `<dir>/bundle.json` (the configuration and, per
 * tensor, dtype, shape and byte range) and `<dir>/bundle.bin` (little-endian float32 / int32 data).
 */
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StateDict } from '@hpseg/core';
import type * as tf from '@tensorflow/tfjs-core';

type Data = Float32Array | Int32Array;

export interface BundleEntry {
  readonly dtype: 'float32' | 'int32';
  readonly shape: readonly number[];
  readonly data: Data;
}

export class Bundle {
  readonly #entries = new Map<string, BundleEntry>();

  addHost(name: string, shape: readonly number[], data: Data): void {
    const dtype = data instanceof Int32Array ? 'int32' : 'float32';
    this.#entries.set(name, { dtype, shape, data });
  }

  /** A tensor's values (read asynchronously), under `name`. */
  async add(name: string, t: tf.Tensor): Promise<void> {
    const values = await t.data();
    const data = t.dtype === 'int32' ? Int32Array.from(values) : Float32Array.from(values);
    this.addHost(name, t.shape, data);
  }

  /** Every tensor of a state dict (e.g. the ViT weights), under `prefix + key`. */
  addStateDict(prefix: string, sd: StateDict): void {
    for (const [key, h] of sd) this.addHost(prefix + key, h.shape, Float32Array.from(h.data as Float32Array));
  }

  /** Writes `bundle.json` and `bundle.bin` into `dir`; returns the path of the JSON. */
  async write(dir: string, config: Record<string, unknown>): Promise<string> {
    const tensors: Record<
      string,
      { dtype: string; shape: readonly number[]; offset: number; bytes: number }
    > = {};
    const file = await open(join(dir, 'bundle.bin'), 'w');
    try {
      let offset = 0;
      for (const [name, e] of this.#entries) {
        const bytes = new Uint8Array(e.data.buffer, e.data.byteOffset, e.data.byteLength);
        await file.write(bytes, 0, bytes.length, offset);
        tensors[name] = { dtype: e.dtype, shape: e.shape, offset, bytes: bytes.length };
        offset += bytes.length;
      }
    } finally {
      await file.close();
    }
    const path = join(dir, 'bundle.json');
    await writeFile(path, JSON.stringify({ data: 'bundle.bin', config, tensors }));
    return path;
  }
}
