import type { CliIo } from './io.js';

export interface Progress {
  /** Marks `n` more items done; `note` is shown after the rate (loss, file name...). */
  tick(n?: number, note?: string): void;
  done(note?: string): void;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(r).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/**
 * Items, rate and ETA. On a TTY one bar redrawn in place on stderr; otherwise a plain line at most
 * every `everySeconds` seconds (and at the end), so logs stay readable.
 */
export function createProgress(
  io: CliIo,
  label: string,
  total: number,
  { unit = 'it', everySeconds = 10, now = () => performance.now() } = {},
): Progress {
  const start = now();
  let count = 0;
  let lastPrint = start;
  const render = (note: string | undefined): string => {
    const elapsed = (now() - start) / 1000;
    const rate = elapsed > 0 ? count / elapsed : 0;
    const eta = rate > 0 && total > 0 ? (total - count) / rate : Number.NaN;
    const frac = total > 0 ? Math.min(1, count / total) : 0;
    const rateText =
      rate >= 1 || rate === 0 ? `${rate.toFixed(1)} ${unit}/s` : `${(1 / rate).toFixed(2)} s/${unit}`;
    const tail = `${count}/${total} ${rateText} ETA ${formatDuration(eta)}${note ? ` ${note}` : ''}`;
    if (io.isTTY) {
      const width = 24;
      const filled = Math.round(frac * width);
      return `\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${tail}\u001b[K`;
    }
    return `${label}: ${tail}\n`;
  };
  return {
    tick(n = 1, note) {
      count += n;
      const t = now();
      if (io.isTTY || t - lastPrint >= everySeconds * 1000) {
        lastPrint = t;
        io.stderr.write(render(note));
      }
    },
    done(note) {
      io.stderr.write(render(note));
      if (io.isTTY) io.stderr.write('\n');
    },
  };
}
