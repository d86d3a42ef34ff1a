import { HpError } from '@hpseg/core';
import type { Command } from '../command.js';
import { TRAIN_SPEC } from './specs.js';

export const trainCommand: Command = {
  spec: TRAIN_SPEC,
  async execute() {
    throw new HpError('E_NOT_IMPLEMENTED', 'hpseg train: not implemented yet');
  },
};
