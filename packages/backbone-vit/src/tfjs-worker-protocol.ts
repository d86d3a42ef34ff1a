import type { VitHostWeights } from './weights.js';

/** Messages to a tfjs worker (see engine-tfjs-workers.ts). Buffers are transferred, not copied. */
export type TfjsWorkerRequest =
  | { type: 'init'; weights: VitHostWeights }
  | {
      type: 'forward';
      id: number;
      pixels: Float32Array;
      B: number;
      H: number;
      W: number;
      attention: boolean;
    }
  | {
      /** One image split by token rows: this worker computes rows `[start, end)` of every layer. */
      type: 'rows';
      id: number;
      pixels: Float32Array;
      H: number;
      W: number;
      attention: boolean;
      start: number;
      end: number;
      /** Workers taking part; the key/value exchange and its barrier live in `shared` (see row-exchange.ts). */
      parties: number;
      shared: SharedArrayBuffer;
    };

export type TfjsWorkerResponse =
  | { type: 'ready'; ok: true; backend: string }
  | {
      type: 'forward';
      id: number;
      ok: true;
      patchTokens: Float32Array;
      clsToken: Float32Array;
      attentionLogits?: Float32Array;
    }
  | { type: 'rows'; id: number; ok: true; tokens: Float32Array; attentionLogits?: Float32Array }
  | { type: 'init' | 'forward' | 'rows'; id?: number; ok: false; code: string; message: string };
