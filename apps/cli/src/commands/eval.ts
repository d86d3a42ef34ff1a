import { HpError } from '@hpseg/core';
import type { Command } from '../command.js';
import { EVAL_SPEC } from './specs.js';

export const evalCommand: Command = {
  spec: EVAL_SPEC,
  async execute() {
    throw new HpError('E_NOT_IMPLEMENTED', 'hpseg eval: not implemented yet');
  },
};
