// Benchmarks print one JSON object per line per figure; progress goes to stderr. Children that measure
// us run compiled JavaScript, as the product runs from dist/.
import { execFileSync } from "node:child_process";
import { copyFileSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { memoryUsage } from "node:process";
import { fileURLToPath } from "node:url";

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

/** Resident set size of this process now, in MiB. */
export function rssMb(): number {
  return Math.round(memoryUsage.rss() / 2 ** 20);
}

/**
 * Compiles src/ and bench/ with tsc into .bench-build/ and returns its bench/run.js, for child processes
 * run by plain node: under tsx, the loader's worker thread and heap added ~90 MB to every peak RSS.
 */
export function compiledBenchRunner(): string {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  const runJs = path.join(root, ".bench-build", "bench", "run.js");
  if (import.meta.url.endsWith(".js")) return runJs; // already compiled: a child's child
  log("compiling the benchmark children (tsc -p tsconfig.bench.json)");
  const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc");
  execFileSync(process.execPath, [tsc, "-p", path.join(root, "tsconfig.bench.json")], { stdio: "inherit" });
  copyFileSync(path.join(root, "package.json"), path.join(root, ".bench-build", "package.json")); // core/version reads it
  return runJs;
}

/**
 * numpy's fp32 1024³ matmul FLOP/s with `threads` threads (median of 15), the reference of lora's and embed-tune's MFU;
 * with `cpu`, FLOPs per CPU-second of one thread instead (time.process_time: robust to other jobs' load).
 */
export function numpyFlops(threads: number, cpu = false): number | null {
  const clock = cpu ? "time.process_time" : "time.perf_counter";
  const code = `
import time, numpy as np
a = np.random.rand(1024, 1024).astype(np.float32); b = np.random.rand(1024, 1024).astype(np.float32)
a @ b
ts = []
for _ in range(15):
    t = ${clock}(); a @ b; ts.append(${clock}() - t)
ts.sort(); print(2 * 1024**3 / ts[len(ts) // 2])
`;
  const env = { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) };
  try {
    return Number(execFileSync("python3", ["-c", code], { env, encoding: "utf8" }).trim());
  } catch (e) {
    log(`numpy reference unavailable: ${String(e)}`);
    return null;
  }
}

/** The CPU's model and SIMD flags, printed with every run (the machines differ). */
export function cpuFigure(bench: string): Record<string, unknown> {
  let model = os.cpus()[0]?.model ?? "unknown";
  let flags: string[] = [];
  try {
    const info = readFileSync("/proc/cpuinfo", "utf8");
    model = /model name\s*:\s*(.*)/.exec(info)?.[1] ?? model;
    const all = (/flags\s*:\s*(.*)/.exec(info)?.[1] ?? "").split(" ");
    flags = all.filter((f) => /^(sse4_2|avx|avx2|fma|f16c|avx512\w*|amx\w*|neon|asimd)$/.test(f));
  } catch {
    // not Linux
  }
  return { bench, figure: "cpu", model, cores: os.availableParallelism(), flags, node: process.version };
}
