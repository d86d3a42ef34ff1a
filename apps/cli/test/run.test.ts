import { describe, expect, it } from 'vitest';
import { run } from '../src/run.js';
import { captureIo } from './helpers.js';

describe('run: help and argument errors', () => {
  it('prints the command list for --help and exits 0', async () => {
    const io = captureIo();
    expect(await run(['--help'], io)).toBe(0);
    expect(io.out()).toContain('Usage: hpseg <command>');
    for (const name of ['demo', 'train', 'features', 'eval', 'segment', 'weights fetch', 'data prepare']) {
      expect(io.out()).toContain(name);
    }
  });

  it('prints a command help with its flags', async () => {
    const io = captureIo();
    expect(await run(['train', '--help'], io)).toBe(0);
    expect(io.out()).toContain('--preset');
    expect(io.out()).toContain('--resume');
  });

  it('unknown command: one line with E_ARG and exit code 2', async () => {
    const io = captureIo();
    expect(await run(['frobnicate'], io)).toBe(2);
    expect(io.err()).toMatch(
      /^hpseg: E_ARG: hpseg: unknown command: expected one of .*got "frobnicate"\n {2}hint: hpseg --help\n$/,
    );
  });

  it('unknown flag: E_ARG, no stack trace', async () => {
    const io = captureIo();
    expect(await run(['eval', '--no-such-flag'], io)).toBe(2);
    expect(io.err()).toContain('hpseg: E_ARG: hpseg eval:');
    expect(io.err()).not.toContain('    at ');
  });

  it('group without subcommand names the choices', async () => {
    const io = captureIo();
    expect(await run(['weights'], io)).toBe(2);
    expect(io.err()).toContain('expected one of fetch, inspect');
  });
});
