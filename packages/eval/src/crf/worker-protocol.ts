import type { ValidCrfInput } from './validate.js';

export interface WorkerRequest {
  id: number;
  input: ValidCrfInput;
}

export type WorkerResponse =
  | { id: number; ok: true; probabilities: Float32Array; labels: Int32Array }
  | { id: number; ok: false; code: string; message: string };
