/** Shapes of the golden fixtures (test/fixtures/*.json), shared by the cpu/wasm and the webgpu tests. */

export interface LocalCase {
  gridSize: number;
  sigma: number;
  attentionShape: [number, number, number, number];
  attention: number[];
  weights: number[];
  weightsShape: [number, number, number];
  codeNHWC: number[];
  codeShape: [number, number, number, number];
  mixedNHWC: number[];
  keptPerImage: number[];
}

export interface LossCase {
  name: string;
  gridSize: number | [number, number];
  lambda: number;
  temperature: number;
  shapes: Record<'z' | 'featBackbone' | 'codeMomentum' | 'poolAgnostic' | 'poolSpecific', [number, number]>;
  z: number[];
  zMix: number[];
  featBackbone: number[];
  codeMomentum: number[];
  poolAgnostic: number[];
  poolSpecific: number[];
  negativeMask: number[] | null;
  loss: number;
  gradZ: number[];
  gradZMix: number[];
  validAnchorsPerImage: number[];
  officialTorchLossIsNaN: boolean;
}

export interface Chain {
  gridSize: number;
  attentionShape: [number, number, number, number];
  attention: number[];
  codeShape: [number, number, number, number];
  codeNHWC: number[];
  featBackbone: number[];
  codeMomentum: number[];
  poolAgnostic: number[];
  poolSpecific: number[];
  C: number;
  Q: number;
  lambda: number;
  temperature: number;
  loss: number;
  gradCodeNHWC: number[];
  validAnchorsPerImage: number[];
}
