// How commands talk to the terminal: human text on stdout, one JSON document with --json,
// progress bars on stderr (only on a TTY, and never in --json mode). Human text is made safe
// for a terminal here (file names and document text may carry escape sequences); JSON is exact.
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
  /** Streamed human text (a model's answer as it comes), as is but made safe; nothing with --json. */
  stream(piece: string): void;
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
      if (!options.json && !options.quiet) stdout.write(safeText(text) + "\n");
    },
    warn(text) {
      stderr.write(`warning: ${safeText(text)}\n`);
    },
    result(value, human) {
      if (options.json) stdout.write(JSON.stringify(toWire(value)) + "\n");
      else stdout.write(safeText(human(value as never)) + "\n");
    },
    stream(piece) {
      if (!options.json) stdout.write(safeText(piece));
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
    const payload = { task: safeText(e.task, ONE_LINE), unit: e.unit ?? "", note: safeText(e.note ?? "", ONE_LINE) };
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

/**
 * Text a terminal shows as text: C0 and C1 control characters (ESC starts colour, cursor and
 * title sequences; CR overwrites a line), DEL, and the bidirectional overrides that reorder what
 * is shown are written as visible escapes (`\x1b`, `\u202e`). Newline and tab stay (CR LF
 * becomes LF) unless `oneLine` is set (then they are escaped too).
 */
export function safeText(text: string, options: { oneLine?: boolean } = {}): string {
  const unsafe = options.oneLine ? UNSAFE_ONE_LINE : UNSAFE;
  // a Windows line end is a line end, not a carriage return to show
  return (options.oneLine ? text : text.replace(/\r\n/g, "\n")).replace(unsafe, (c) => {
    const code = c.codePointAt(0)!;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

const ONE_LINE = { oneLine: true };
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
const UNSAFE_ONE_LINE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

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
