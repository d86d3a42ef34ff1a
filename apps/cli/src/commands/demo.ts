import { HpError } from '@hpseg/core';
import type { Command } from '../command.js';
import { DEMO_SPEC } from './specs.js';

export const demoCommand: Command = {
  spec: DEMO_SPEC,
  async execute() {
    throw new HpError('E_NOT_IMPLEMENTED', 'hpseg demo: not implemented yet');
  },
};
