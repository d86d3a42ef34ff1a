import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { runPaths, type TrainEvent } from '@hpseg/train';
import type { CliIo } from './io.js';
import { createProgress, type Progress } from './progress.js';

/** The learning rates a run logs with every step. */
export interface LoggedRates {
  readonly head: number;
  readonly projectionHead: number;
  readonly linearProbe: number;
  readonly clusterProbe: number;
}

/**
 * Turns a run's events into what `hpseg train` and `hpseg demo` show and keep: stderr lines and a progress
 * bar, and (with a run folder) one JSON line per event in `log.jsonl`.
 */
export function trainReporter(
  io: CliIo,
  options: { readonly outDir: string | null; readonly rates: LoggedRates },
): (event: TrainEvent) => Promise<void> {
  const log = options.outDir ? runPaths(options.outDir).log : null;
  const write = async (record: Record<string, unknown>) => {
    if (!log) return;
    await mkdir(dirname(log), { recursive: true });
    await appendFile(log, `${JSON.stringify(record)}\n`);
  };
  let progress: Progress | null = null;
  return async (event) => {
    switch (event.type) {
      case 'start':
        progress = createProgress(io, 'train', event.totalIterations - event.iteration);
        io.stderr.write(
          `TF.js backend: ${event.backend}; HP loss engine: ${event.lossEngine}; heads' matrix products: ${event.matmulEngine}\n`,
        );
        await write({
          type: 'start',
          iteration: event.iteration,
          totalIterations: event.totalIterations,
          backend: event.backend,
          lossEngine: event.lossEngine,
          matmulEngine: event.matmulEngine,
        });
        if (event.resumed) {
          // Lines logged after the checkpoint (a crash between checkpoints) are superseded from here on.
          await write({
            type: 'resume',
            iteration: event.iteration,
            note: 'records with iteration >= this one before this line are superseded',
          });
        }
        return;
      case 'pools':
        if (event.reason === 'initial')
          io.stderr.write(`built reference pools (${event.size} patches each) in ${event.ms} ms\n`);
        await write({ type: 'pools', reason: event.reason, iteration: event.iteration, ms: event.ms });
        return;
      case 'step': {
        const r = event.result;
        await write({
          type: 'step',
          iteration: event.iteration,
          epoch: event.epoch,
          batch: event.batch,
          lambda: event.lambda,
          loss: r.total,
          hp: r.hp,
          consistency: r.consistency,
          linear: r.linear,
          cluster: r.cluster,
          headGradNorm: r.headGradNorm,
          lr: options.rates,
          stepMs: event.stepMs,
          dataMs: event.dataMs,
          backboneMs: event.backboneMs,
          ...r.timings,
        });
        progress?.tick(1, `loss ${r.total.toFixed(4)} λ ${event.lambda.toFixed(3)}`);
        return;
      }
      case 'validation':
        await write({
          type: 'valid',
          iteration: event.iteration,
          epoch: event.epoch,
          clusterMIoU: event.result.cluster.mIoU,
          clusterAccuracy: event.result.cluster.accuracy,
          linearMIoU: event.result.linear.mIoU,
          linearAccuracy: event.result.linear.accuracy,
          score: event.score,
        });
        return;
      case 'checkpoint':
        if (event.kind === 'interrupted') await write({ type: 'interrupted', iteration: event.iteration });
        return;
      case 'end':
        progress?.done(event.status === 'completed' ? undefined : event.status);
        return;
    }
  };
}

/** Logs a run's non-finite loss (the `E_NUMERIC` error carries the iteration and the step's losses). */
export async function logNumericError(outDir: string, details: unknown): Promise<void> {
  const d = (details ?? {}) as { iteration?: number; result?: Record<string, unknown> };
  await appendFile(
    runPaths(outDir).log,
    `${JSON.stringify({ type: 'error', iteration: d.iteration, error: 'non-finite loss', ...d.result })}\n`,
  );
}
