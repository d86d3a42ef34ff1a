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
  | { type: 'init' | 'forward'; id?: number; ok: false; code: string; message: string };
