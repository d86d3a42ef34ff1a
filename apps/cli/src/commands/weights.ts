import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  DINO_PRESETS,
  type DinoPresetName,
  detectBackboneKeyFormat,
  fetchDinoWeights,
  inferVitConfig,
  normalizeBackboneKeys,
  readBackboneFile,
} from '@hpseg/backbone-vit';
import { downloadFile, HpError, loadPthFile, toStateDict } from '@hpseg/core';
import { loadRunCheckpoint } from '@hpseg/train';
import { optionalString } from '../args.js';
import type { Command } from '../command.js';
import { EXIT_OK } from '../errors.js';
import type { CliIo } from '../io.js';
import { createProgress } from '../progress.js';
import { WEIGHTS_FETCH_SPEC, WEIGHTS_INSPECT_SPEC } from './specs.js';

function progressFor(io: CliIo, label: string) {
  let bar: ReturnType<typeof createProgress> | undefined;
  let last = 0;
  return {
    onProgress: (p: { received: number; total: number | undefined }) => {
      bar ??= createProgress(io, label, Math.ceil((p.total ?? 0) / 2 ** 20), {
        unit: 'MiB',
        everySeconds: 5,
      });
      const mib = Math.floor(p.received / 2 ** 20);
      if (mib > last) {
        bar.tick(mib - last);
        last = mib;
      }
    },
    done: () => bar?.done(),
  };
}

export const weightsFetchCommand: Command = {
  spec: WEIGHTS_FETCH_SPEC,
  async execute({ values, positionals }, io) {
    const name = positionals[0];
    const names = Object.keys(DINO_PRESETS);
    const url = optionalString(values, 'url');
    const dir = resolve(optionalString(values, 'out') ?? join(homedir(), '.cache', 'hpseg'));
    const progress = progressFor(io, `download ${name ?? url}`);
    if (url) {
      const dest = join(dir, name ?? new URL(url).pathname.split('/').pop() ?? 'weights.pth');
      const r = await downloadFile({
        url,
        dest,
        onProgress: progress.onProgress,
        ...(io.signal ? { signal: io.signal } : {}),
      });
      progress.done();
      io.stdout.write(`${r.path} (${r.bytes} bytes, sha256 ${r.sha256}${r.resumed ? ', resumed' : ''})\n`);
      return EXIT_OK;
    }
    if (name === undefined || !names.includes(name)) {
      throw new HpError(
        'E_ARG',
        `hpseg weights fetch: unknown weights: expected one of ${names.join(', ')}, got ${name === undefined ? 'none' : JSON.stringify(name)}`,
        { hint: 'vits8 is the backbone of the official COCO-Stuff and Cityscapes runs' },
      );
    }
    const r = await fetchDinoWeights(name as DinoPresetName, dir, {
      onProgress: progress.onProgress,
      ...(io.signal ? { signal: io.signal } : {}),
    });
    progress.done();
    io.stdout.write(
      `${r.path}\n  ${r.preset.arch} patch ${r.preset.patchSize}, ${r.bytes} bytes, sha256 ${r.sha256}${r.resumed ? ' (resumed)' : ''}\n  use: hpseg train --weights ${r.path} ...\n`,
    );
    return EXIT_OK;
  },
};

export const weightsInspectCommand: Command = {
  spec: WEIGHTS_INSPECT_SPEC,
  async execute({ values, positionals }, io) {
    const path = positionals[0];
    if (!path)
      throw new HpError('E_ARG', 'hpseg weights inspect: missing file: expected a checkpoint path, got none');
    const file = resolve(path);
    let kind: string;
    let extra: Record<string, unknown> = {};
    let tensors: Map<string, { shape: readonly number[]; dtype: string; storedDtype?: string }>;
    let backboneKeys: Map<string, import('@hpseg/core').HostTensor> | undefined;
    if (/\.safetensors$/i.test(file)) {
      try {
        const { tensors: t, meta } = await loadRunCheckpoint(file);
        kind = 'hpseg checkpoint';
        tensors = t;
        extra = {
          iteration: meta.iteration,
          preset: meta.preset,
          backbone: meta.backbone,
          classes: meta.nClasses,
        };
      } catch {
        kind = 'safetensors';
        backboneKeys = await readBackboneFile(file);
        tensors = backboneKeys;
      }
    } else {
      const value = await loadPthFile(file);
      const isHp = value instanceof Map && value.has('net_model_state_dict');
      kind = isHp ? 'official HP checkpoint (ckpt.pth)' : 'PyTorch checkpoint';
      tensors = toStateDict(value);
      backboneKeys = await readBackboneFile(file);
      if (isHp)
        extra = {
          epoch: value.get('epoch') ?? null,
          iter: value.get('iter') ?? null,
          best: value.get('best') ?? null,
        };
    }
    let architecture: Record<string, unknown> | null = null;
    if (backboneKeys && backboneKeys.size > 0) {
      try {
        const format = detectBackboneKeyFormat(backboneKeys);
        const normalized = normalizeBackboneKeys(backboneKeys, format);
        const vit = [...normalized.keys()].filter((k) =>
          /^(blocks|pos_embed|cls_token|patch_embed|norm\.)/.test(k),
        );
        const onlyVit = new Map(vit.map((k) => [k, normalized.get(k)!]));
        try {
          architecture = { format, ...inferVitConfig(onlyVit) };
        } catch {
          // Heads are not stored in the weights; DINO's width/64 rule does not fit this model.
          architecture = {
            format,
            ...inferVitConfig(onlyVit, { numHeads: 1 }),
            numHeads: 'unknown (width not a multiple of 64)',
          };
        }
      } catch (error) {
        architecture = { error: (error as Error).message };
      }
    }
    let params = 0;
    for (const t of tensors.values()) params += t.shape.reduce((a, b) => a * b, 1);
    const rows = [...tensors.entries()].map(([k, t]) => ({
      name: k,
      shape: [...t.shape],
      dtype: t.storedDtype ?? t.dtype,
    }));
    if (values.json === true) {
      io.stdout.write(
        `${JSON.stringify({ file, kind, tensors: rows.length, parameters: params, architecture, ...extra, list: rows })}\n`,
      );
      return EXIT_OK;
    }
    io.stdout.write(
      `${file}\n  kind: ${kind}\n  tensors: ${rows.length}, parameters: ${params.toLocaleString('en-US')}\n`,
    );
    if (architecture) io.stdout.write(`  backbone: ${JSON.stringify(architecture)}\n`);
    for (const [k, v] of Object.entries(extra)) io.stdout.write(`  ${k}: ${JSON.stringify(v)}\n`);
    const width = Math.max(...rows.map((r) => r.name.length), 4) + 2;
    for (const r of rows.slice(0, 400))
      io.stdout.write(`  ${r.name.padEnd(width)}[${r.shape.join(', ')}] ${r.dtype}\n`);
    if (rows.length > 400) io.stdout.write(`  ... ${rows.length - 400} more\n`);
    return EXIT_OK;
  },
};
