#!/usr/bin/env node
import { run } from './run.js';

/**
 * Process entry of `hpseg`. The first Ctrl-C aborts the signal (the running command finishes its
 * step, saves and exits cleanly); a second one exits at once.
 */
const controller = new AbortController();
let interrupts = 0;
process.on('SIGINT', () => {
  interrupts += 1;
  if (interrupts > 1) process.exit(130);
  process.stderr.write(
    '\nhpseg: interrupt received: finishing the current step (Ctrl-C again to quit now)\n',
  );
  controller.abort();
});

const code = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  isTTY: process.stderr.isTTY === true,
  env: process.env,
  signal: controller.signal,
});
process.exitCode = code;
