import { HpError } from '@hpseg/core';
import type { Command } from '../command.js';
import { DATA_PREPARE_SPEC, DATA_VERIFY_SPEC } from './specs.js';

export const dataVerifyCommand: Command = {
  spec: DATA_VERIFY_SPEC,
  async execute() {
    throw new HpError('E_NOT_IMPLEMENTED', 'hpseg data verify: not implemented yet');
  },
};
export const dataPrepareCommand: Command = {
  spec: DATA_PREPARE_SPEC,
  async execute() {
    throw new HpError('E_NOT_IMPLEMENTED', 'hpseg data prepare: not implemented yet');
  },
};
