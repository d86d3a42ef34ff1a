import { parseArgs } from 'node:util';
import type { BackboneEngine } from '@hpseg/backbone-vit';
import { BACKEND_CHOICES, type BackendChoice, HpError } from '@hpseg/core';

/** One flag of a command: its parseArgs type plus what `--help` prints. */
export interface FlagSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
  readonly description: string;
  /** Shown in help as `<value>`. */
  readonly value?: string;
  readonly default?: string;
}

export interface CommandSpec {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly flags: Readonly<Record<string, FlagSpec>>;
  readonly positionals?: boolean;
  /** Extra text printed at the end of `--help`. */
  readonly notes?: string;
}

export type FlagValues = Record<string, string | boolean | string[] | undefined>;

export interface Parsed {
  readonly values: FlagValues;
  readonly positionals: string[];
  readonly help: boolean;
}

/** Parses `argv` for one command, strictly: unknown flags and missing values are `E_ARG`. */
export function parseCommand(spec: CommandSpec, argv: readonly string[]): Parsed {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const [name, flag] of Object.entries(spec.flags)) {
    options[name] = {
      type: flag.type,
      ...(flag.short ? { short: flag.short } : {}),
      ...(flag.multiple ? { multiple: true } : {}),
    };
  }
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options,
      allowPositionals: true,
      strict: true,
    });
    const help = values.help === true;
    if (!help && !spec.positionals && positionals.length > 0) {
      throw new HpError(
        'E_ARG',
        `hpseg ${spec.name}: unexpected argument: expected only flags, got ${JSON.stringify(positionals[0])}`,
        { hint: `hpseg ${spec.name} --help` },
      );
    }
    return { values: values as FlagValues, positionals, help };
  } catch (error) {
    if ((error as { name?: unknown }).name === 'HpError') throw error;
    const message = String((error as Error).message).split('\n')[0];
    throw new HpError('E_ARG', `hpseg ${spec.name}: ${message}`, {
      hint: `hpseg ${spec.name} --help`,
      cause: error,
    });
  }
}

export function helpText(spec: CommandSpec): string {
  const rows = Object.entries(spec.flags).map(([name, flag]) => {
    const left = `${flag.short ? `-${flag.short}, ` : ''}--${name}${flag.type === 'string' ? ` <${flag.value ?? 'value'}>` : ''}`;
    const def = flag.default !== undefined ? ` (default: ${flag.default})` : '';
    return [left, `${flag.description}${def}`] as const;
  });
  rows.push(['-h, --help', 'show this help']);
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  const lines = [
    `hpseg ${spec.name}: ${spec.summary}`,
    '',
    `Usage: ${spec.usage}`,
    '',
    'Options:',
    ...rows.map(([l, r]) => `  ${l.padEnd(width)}${r}`),
  ];
  if (spec.notes) lines.push('', spec.notes);
  return `${lines.join('\n')}\n`;
}

/** A required string flag, or `E_ARG` naming it. */
export function requireString(values: FlagValues, name: string, command: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v.length === 0) {
    throw new HpError('E_ARG', `hpseg ${command}: missing --${name}: expected a value, got none`, {
      hint: `hpseg ${command} --help`,
    });
  }
  return v;
}

export function optionalString(values: FlagValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/** An integer flag with bounds, or `E_ARG`. */
export function intFlag(
  values: FlagValues,
  name: string,
  command: string,
  fallback: number,
  min = 0,
): number {
  const v = values[name];
  if (v === undefined) return fallback;
  const n = typeof v === 'string' ? Number(v) : Number.NaN;
  if (!Number.isInteger(n) || n < min) {
    throw new HpError(
      'E_ARG',
      `hpseg ${command}: bad --${name}: expected an integer >= ${min}, got ${JSON.stringify(v)}`,
    );
  }
  return n;
}

export function numberFlag(values: FlagValues, name: string, command: string, fallback: number): number {
  const v = values[name];
  if (v === undefined) return fallback;
  const n = typeof v === 'string' ? Number(v) : Number.NaN;
  if (!Number.isFinite(n)) {
    throw new HpError(
      'E_ARG',
      `hpseg ${command}: bad --${name}: expected a number, got ${JSON.stringify(v)}`,
    );
  }
  return n;
}

/** One of a fixed set of strings, or `E_ARG` listing them. */
export function choiceFlag<T extends string>(
  values: FlagValues,
  name: string,
  command: string,
  choices: readonly T[],
  fallback: T,
): T;
export function choiceFlag<T extends string>(
  values: FlagValues,
  name: string,
  command: string,
  choices: readonly T[],
  fallback: T | undefined,
): T | undefined;
export function choiceFlag<T extends string>(
  values: FlagValues,
  name: string,
  command: string,
  choices: readonly T[],
  fallback: T | undefined,
): T | undefined {
  const v = values[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !choices.includes(v as T)) {
    throw new HpError(
      'E_ARG',
      `hpseg ${command}: bad --${name}: expected one of ${choices.join(', ')}, got ${JSON.stringify(v)}`,
    );
  }
  return v as T;
}

/** `--loss-engine auto|fused|tfjs` (the HP-loss engine; default auto). */
export function lossEngineFlag(values: FlagValues, command: string): 'auto' | 'fused' | 'tfjs' {
  return choiceFlag(values, 'loss-engine', command, ['auto', 'fused', 'tfjs'] as const, 'auto');
}

/** `--matmul-engine auto|onnx|tfjs` (the heads' matrix products; default auto). */
export function matmulEngineFlag(values: FlagValues, command: string): 'auto' | 'onnx' | 'tfjs' {
  return choiceFlag(values, 'matmul-engine', command, ['auto', 'onnx', 'tfjs'] as const, 'auto');
}

/** `--engine onnx|tfjs` (the backbone engine; default onnx). */
export function engineFlag(values: FlagValues, command: string): BackboneEngine {
  return choiceFlag(values, 'engine', command, ['onnx', 'tfjs'] as const, 'onnx') as BackboneEngine;
}

/** `--backend` (the TF.js backend; default auto): a known name or any backend registered with TF.js. */
export function backendFlag(values: FlagValues, command: string): BackendChoice {
  const v = values.backend;
  if (v === undefined) return 'auto';
  if (typeof v !== 'string' || v.trim() === '') {
    throw new HpError(
      'E_ARG',
      `hpseg ${command}: bad --backend: expected one of ${BACKEND_CHOICES.join(', ')} or the name of a registered TF.js backend, got ${JSON.stringify(v)}`,
    );
  }
  return v.trim(); // selectBackend checks it: the known names, or any backend registered with TF.js
}
