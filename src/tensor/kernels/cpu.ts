// What the CPU offers the kernels, read once: its SIMD flags (Linux: /proc/cpuinfo) and whether it has
// int8 dot-product instructions (x86-64 AVX-512 VNNI or AVX-VNNI, arm64 dot product), which decide the
// quantized matmul's path (qmatmul.ts). Leaves out timing-based tuning: flags only.
import { readFileSync } from "node:fs";
import os from "node:os";

export interface CpuFeatures {
  model: string;
  /** The SIMD flags that matter to the kernels (sse4_2, avx2, fma, avx512*, avx_vnni, amx*, asimd…). */
  flags: string[];
  /** int8 dot products in hardware: MLAS's int8 kernels then beat its f32 GEMM at every row count. */
  int8Dot: boolean;
}

let cached: CpuFeatures | undefined;

export function cpuFeatures(): CpuFeatures {
  if (cached) return cached;
  let flags: string[] = [];
  let info = "";
  try {
    info = readFileSync("/proc/cpuinfo", "utf8");
  } catch {
    // not Linux: no flags list
  }
  const line = /^(?:flags|Features)\s*:\s*(.*)$/m.exec(info)?.[1] ?? "";
  flags = line
    .split(/\s+/)
    .filter((f) => /^(sse4_2|avx|avx2|fma|f16c|avx512\w*|avx_vnni\w*|amx\w*|asimd\w*|sve\w*)$/.test(f));
  const x86Dot = flags.includes("avx512_vnni") || flags.includes("avx_vnni");
  // Apple silicon always has the arm64 dot product; Linux lists it as asimddp.
  const armDot = os.arch() === "arm64" && (os.platform() === "darwin" || flags.includes("asimddp"));
  cached = { model: os.cpus()[0]?.model ?? "unknown", flags, int8Dot: x86Dot || armDot };
  return cached;
}
