import { HpError } from '@hpseg/core';
import { helpText, parseCommand } from './args.js';
import type { Command } from './command.js';
import { EXIT_OK, exitCodeFor, formatError } from './errors.js';
import type { CliIo } from './io.js';

/** Commands load lazily so `hpseg --help` does not pay for TF.js. */
const COMMANDS: Readonly<Record<string, { summary: string; load: () => Promise<Command> }>> = {
  demo: {
    summary: 'synthetic data + random ViT: k-means baseline vs HP training, no download',
    load: async () => (await import('./commands/demo.js')).demoCommand,
  },
  train: {
    summary: 'train the HP head (official loop) on a dataset',
    load: async () => (await import('./commands/train.js')).trainCommand,
  },
  features: {
    summary: 'precompute backbone features + LHP weights into a cache for train --feature-cache',
    load: async () => (await import('./commands/features.js')).featuresCommand,
  },
  eval: {
    summary: 'evaluate a checkpoint (ours or an official HP ckpt.pth) with the official protocol',
    load: async () => (await import('./commands/eval.js')).evalCommand,
  },
  segment: {
    summary: 'write colour-coded label PNGs and overlays for images',
    load: async () => (await import('./commands/segment.js')).segmentCommand,
  },
  'weights fetch': {
    summary: 'download DINO backbone weights (resumable, checked)',
    load: async () => (await import('./commands/weights.js')).weightsFetchCommand,
  },
  'weights inspect': {
    summary: 'print the architecture and tensors of a checkpoint',
    load: async () => (await import('./commands/weights.js')).weightsInspectCommand,
  },
  'data verify': {
    summary: 'check a dataset folder against its official layout',
    load: async () => (await import('./commands/data.js')).dataVerifyCommand,
  },
  'data prepare': {
    summary: 'write the five-crop training set (cropped/<name>_five_crop_0.5)',
    load: async () => (await import('./commands/data.js')).dataPrepareCommand,
  },
};

const GROUPS = new Set(['weights', 'data']);

export function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length)) + 2;
  const lines = [
    'hpseg: Hidden Positives unsupervised semantic segmentation (CVPR 2023) on TensorFlow.js',
    '',
    'Usage: hpseg <command> [options]      hpseg <command> --help',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`),
    '',
    'Start with `hpseg demo` (no download). Real results need DINO weights: `hpseg weights fetch vits8`.',
  ];
  return `${lines.join('\n')}\n`;
}

function resolveCommand(argv: readonly string[]): { name: string; rest: string[] } {
  const [first, second, ...more] = argv;
  if (first === undefined) return { name: '', rest: [] };
  if (GROUPS.has(first)) {
    if (second === undefined || second.startsWith('-')) {
      const subs = Object.keys(COMMANDS)
        .filter((k) => k.startsWith(`${first} `))
        .map((k) => k.split(' ')[1]);
      throw new HpError(
        'E_ARG',
        `hpseg ${first}: missing subcommand: expected one of ${subs.join(', ')}, got ${second === undefined ? 'none' : JSON.stringify(second)}`,
        { hint: `hpseg ${first} ${subs[0]} --help` },
      );
    }
    return { name: `${first} ${second}`, rest: more };
  }
  return { name: first, rest: second === undefined ? more : [second, ...more] };
}

/**
 * The whole CLI as a function: parses `argv` (without `node` and the script), runs the command and
 * returns the exit code. Every error ends here: `HpError`s become one line with their code and hint,
 * anything else prints its stack (a bug).
 */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
      io.stdout.write(mainHelp());
      return EXIT_OK;
    }
    if (argv[0] === '--version' || argv[0] === '-v') {
      const { cliVersion } = await import('./versions.js');
      io.stdout.write(`${await cliVersion()}\n`);
      return EXIT_OK;
    }
    const { name, rest } = resolveCommand(argv);
    const entry = COMMANDS[name];
    if (!entry) {
      throw new HpError(
        'E_ARG',
        `hpseg: unknown command: expected one of ${Object.keys(COMMANDS).join(', ')}, got ${JSON.stringify(name)}`,
        { hint: 'hpseg --help' },
      );
    }
    const command = await entry.load();
    const parsed = parseCommand(command.spec, rest);
    if (parsed.help) {
      io.stdout.write(helpText(command.spec));
      return EXIT_OK;
    }
    return await command.execute(parsed, io);
  } catch (error) {
    io.stderr.write(formatError(error));
    return exitCodeFor(error);
  }
}
