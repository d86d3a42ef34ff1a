#!/usr/bin/env node
import { register } from 'node:module';

// Lets plain Node load tfjs-core's bundler-style ES modules (see bin/tfjs-esm-hook.mjs).
register(new URL('../bin/tfjs-esm-hook.mjs', import.meta.url));

const { run } = await import('./run.js');

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
