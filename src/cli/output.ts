// How commands talk to the terminal: human text on stdout, one JSON document with --json,
// progress bars on stderr (only on a TTY, and never in --json mode).
import cliProgress from "cli-progress";
import type { ProgressEvent, ProgressListener } from "../core/progress.js";
import { toWire } from "../core/wire.js";

export interface Output {
  readonly json: boolean;
  /** A line for people; suppressed in --json mode. */
  info(text: string): void;
  /** A warning on stderr, shown in both modes. */
  warn(text: string): void;
  /** The command's result: printed as wire JSON (snake_case keys) with --json, else rendered by `human`. */
  result(value: unknown, human: (value: never) => string): void;
  /** A progress listener that draws bars; call `done()` when the work ends. */
  progress(): ProgressListener & { done(): void };
}

export interface OutputOptions {
  json: boolean;
  quiet: boolean;
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
}

export function createOutput(options: OutputOptions): Output {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const bars = !options.json && !options.quiet && stderr.isTTY === true;
  return {
    json: options.json,
    info(text) {
      if (!options.json && !options.quiet) stdout.write(text + "\n");
    },
    warn(text) {
      stderr.write(`warning: ${text}\n`);
    },
    result(value, human) {
      if (options.json) stdout.write(JSON.stringify(toWire(value)) + "\n");
      else stdout.write(human(value as never) + "\n");
    },
    progress() {
      if (!bars) return Object.assign(() => {}, { done() {} });
      return barProgress(stderr);
    },
  };
}

function barProgress(stream: NodeJS.WriteStream): ProgressListener & { done(): void } {
  const multi = new cliProgress.MultiBar(
    {
      stream,
      format: "{task} |{bar}| {percentage}% {value}/{total} {unit} {note}",
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
      formatValue: (v, _o, type) => (type === "value" || type === "total" ? humanCount(v) : String(v)),
    },
    cliProgress.Presets.shades_classic,
  );
  const byTask = new Map<string, cliProgress.SingleBar>();
  const listener = (e: ProgressEvent) => {
    const payload = { task: e.task, unit: e.unit ?? "", note: e.note ?? "" };
    let bar = byTask.get(e.task);
    if (!bar) {
      bar = multi.create(e.total ?? 0, e.done, payload);
      byTask.set(e.task, bar);
    }
    if (e.total !== undefined) bar.setTotal(e.total);
    bar.update(e.done, payload);
  };
  return Object.assign(listener, { done: () => multi.stop() });
}

export function humanCount(n: number): string {
  if (n >= 1e9) return (n / 1e9).toFixed(2) + "G";
  if (n >= 1e6) return (n / 1e6).toFixed(1) + "M";
  if (n >= 1e4) return (n / 1e3).toFixed(0) + "k";
  return String(Math.round(n));
}

export function humanBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}
