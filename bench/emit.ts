// Benchmarks print one JSON object per line per figure; progress goes to stderr.
import { readFileSync } from "node:fs";
import { memoryUsage } from "node:process";

export function emit(figure: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(figure) + "\n");
}

export function log(text: string): void {
  process.stderr.write(text + "\n");
}

/** Peak resident set size of this process so far, in MiB (Linux: VmHWM; elsewhere the current RSS). */
export function peakRssMb(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
    if (m) return Math.round(Number(m[1]) / 1024);
  } catch {
    // not Linux
  }
  return Math.round(memoryUsage.rss() / 2 ** 20);
}
