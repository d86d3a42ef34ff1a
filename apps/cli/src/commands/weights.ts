import { HpError } from '@hpseg/core';
import type { Command } from '../command.js';
import { WEIGHTS_FETCH_SPEC, WEIGHTS_INSPECT_SPEC } from './specs.js';

export const weightsFetchCommand: Command = {
  spec: WEIGHTS_FETCH_SPEC,
  async execute() {
    throw new HpError('E_NOT_IMPLEMENTED', 'hpseg weights fetch: not implemented yet');
  },
};
export const weightsInspectCommand: Command = {
  spec: WEIGHTS_INSPECT_SPEC,
  async execute() {
    throw new HpError('E_NOT_IMPLEMENTED', 'hpseg weights inspect: not implemented yet');
  },
};
