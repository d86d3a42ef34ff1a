import { HpError } from '@hpseg/core';
import type { Command } from '../command.js';
import { SEGMENT_SPEC } from './specs.js';

export const segmentCommand: Command = {
  spec: SEGMENT_SPEC,
  async execute() {
    throw new HpError('E_NOT_IMPLEMENTED', 'hpseg segment: not implemented yet');
  },
};
