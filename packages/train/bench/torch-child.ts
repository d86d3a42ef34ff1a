/**
 * The PyTorch side of the step benchmark as a long-running child process
 * (tools/bench/torch_train_step.py): one JSON command per line in, one JSON line out.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { torchBenchEnv } from '../../../tools/bench/torch-env.js';

export const TORCH_SCRIPT = fileURLToPath(
  new URL('../../../tools/bench/torch_train_step.py', import.meta.url),
);

export interface TorchLosses {
  total: number;
  hp: number;
  consistency: number;
  linear: number;
  cluster: number;
  headGradNorm: number;
}

export interface TorchStep {
  ms: { backbone: number; forward: number; backward: number; optimizer: number; total: number };
  losses: TorchLosses;
}

export interface TorchCheck extends TorchStep {
  featAugMaxAbsDiff: number;
  featAugMaxAbs: number;
  stats: { agPositives: number; spPositives: number; contrast: number; validAnchors: number };
}

export interface TorchReady {
  torch: string;
  threads: number;
  openblasCoretype: string | null;
}

export class TorchChild {
  readonly note: string;
  readonly #proc: ChildProcessWithoutNullStreams;
  readonly #lines: AsyncIterator<string>;
  readonly #rl: Interface;
  #stderr = '';

  private constructor(proc: ChildProcessWithoutNullStreams, note: string) {
    this.#proc = proc;
    this.note = note;
    this.#rl = createInterface({ input: proc.stdout });
    this.#lines = this.#rl[Symbol.asyncIterator]();
    proc.stderr.on('data', (d: Buffer) => {
      this.#stderr = (this.#stderr + d.toString()).slice(-4000);
    });
  }

  /** Starts the script on `bundle` and waits until it has loaded everything. */
  static async start(
    python: string,
    bundle: string,
    threads: number,
  ): Promise<{ child: TorchChild; ready: TorchReady }> {
    const env = torchBenchEnv();
    const proc = spawn(python, [TORCH_SCRIPT, bundle, '--threads', String(threads)], { env: env.env });
    const child = new TorchChild(proc, env.note);
    const ready = (await child.#next()) as { ready: TorchReady };
    return { child, ready: ready.ready };
  }

  async #next(): Promise<unknown> {
    const r = await this.#lines.next();
    if (r.done) {
      throw new Error(
        `the PyTorch script ended early: ${this.#stderr.trim().split('\n').slice(-3).join(' | ')}`,
      );
    }
    return JSON.parse(r.value);
  }

  async #command(cmd: string): Promise<unknown> {
    this.#proc.stdin.write(`${JSON.stringify({ cmd })}\n`);
    return this.#next();
  }

  check(): Promise<TorchCheck> {
    return this.#command('check') as Promise<TorchCheck>;
  }

  step(): Promise<TorchStep> {
    return this.#command('step') as Promise<TorchStep>;
  }

  /** Stops the script; returns its peak RSS in MiB. */
  async quit(): Promise<number> {
    const r = (await this.#command('quit')) as { peakRssMiB: number };
    this.#proc.stdin.end();
    this.#rl.close();
    return r.peakRssMiB;
  }

  kill(): void {
    if (this.#proc.exitCode === null) this.#proc.kill();
  }
}
