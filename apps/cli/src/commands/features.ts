import { HpError } from '@hpseg/core';
import type { Command } from '../command.js';
import { FEATURES_SPEC } from './specs.js';

export const featuresCommand: Command = {
  spec: FEATURES_SPEC,
  async execute() {
    throw new HpError('E_NOT_IMPLEMENTED', 'hpseg features: not implemented yet');
  },
};
