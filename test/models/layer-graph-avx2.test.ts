// The quantized layer graphs on a CPU without AVX-512 or int8 dot products (VNNI): the test process
// runs under qemu's user-mode emulation of a Haswell CPU (AVX2, FMA, no AVX-512), so onnxruntime's
// MLAS picks its AVX2 int8 kernels, the ones a machine of that kind runs and CI's own CPU never does.
// QEMU 7.2 does not implement AVX-512 or AVX-VNNI at all, so a kernel that used them would stop the run.
// Q8_0 and Q4_0 models take the graphs there too, and agree with the per-op path as on this CPU.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { GgmlType } from "../../src/formats/gguf/index.js";
import { REPO_ROOT } from "../helpers/fixtures.js";
import { rewriteGguf } from "./gguf-rewrite.js";
import { writeTinyLlamaF32Gguf } from "./tiny-decoders.js";

const TSX_LOADER = pathToFileURL(path.join(REPO_ROOT, "node_modules/tsx/dist/loader.mjs")).href;
const src = (file: string): string => JSON.stringify(pathToFileURL(path.join(REPO_ROOT, "src", file)).href);

/** qemu-x86_64, or undefined with the reason printed (a failure in CI, where .ci/services.sh installs it). */
function qemu(): string | undefined {
  const reason =
    process.arch !== "x64"
      ? `this is ${process.arch}, not x86-64`
      : spawnSync("qemu-x86_64", ["-version"]).status !== 0
        ? "qemu-x86_64 is not installed (Debian: qemu-user; `bash .ci/services.sh install` as root)"
        : undefined;
  if (!reason) return "qemu-x86_64";
  if (process.env.CI === "true" && process.arch === "x64") throw new Error(`CI needs qemu-user: ${reason}`);
  console.warn(`skipping the emulated AVX2 layer-graph tests: ${reason}`);
  return undefined;
}

/**
 * In the emulated process: whether the model takes the graphs, and its logits with them and without.
 * qemu-user shows the host's /proc/cpuinfo, which cpu.ts reads, so the child sets the Q8_0 row limit a
 * CPU without int8 dot products gets (qmatmul.ts) itself.
 */
const CHILD = `
  const { setQ8Int8Rows, Q8_INT8_MAX_ROWS_NO_DOT } = await import(${src("tensor/quant/qmatmul.ts")});
  setQ8Int8Rows(Q8_INT8_MAX_ROWS_NO_DOT);
  const { loadLlamaGguf } = await import(${src("models/llama/load.ts")});
  const { LlamaDecoder } = await import(${src("models/llama/decode.ts")});
  const { LayerGraphs } = await import(${src("models/llama/layer-graph.ts")});
  const { model } = await loadLlamaGguf(process.argv[1]);
  const run = (graphs) => {
    process.env.INFUSE_LAYER_GRAPHS = graphs ? "1" : "0";
    const dec = new LlamaDecoder(model);
    const prompt = Array.from({ length: 40 }, (_, i) => 1 + ((i * 37) % 500));
    const out = [dec.eval(prompt, { logits: "all" })];
    for (let i = 0; i < 6; i++) out.push(dec.eval([3 + i]));
    return out;
  };
  const graphs = LayerGraphs.for(model) !== null;
  const on = run(true), off = run(false);
  let diff = 0, largest = 0;
  on.forEach((x, i) => x.forEach((v, j) => {
    diff = Math.max(diff, Math.abs(v - off[i][j]));
    largest = Math.max(largest, Math.abs(off[i][j]));
  }));
  console.log(JSON.stringify({ graphs, diff, largest }));`;

describe("layer graphs on an AVX2 CPU without int8 dot products (emulated)", () => {
  const tmp = mkdtempSync(path.join(tmpdir(), "infuse-layer-graph-avx2-"));
  let f32Path: string;
  beforeAll(async () => {
    f32Path = await writeTinyLlamaF32Gguf(tmp);
  });

  for (const [label, type] of [
    ["Q8_0", GgmlType.Q8_0],
    ["Q4_0", GgmlType.Q4_0],
  ] as const) {
    it(`${label}: the graphs' logits agree with the per-op path's`, { timeout: 180_000 }, async () => {
      const bin = qemu();
      if (!bin) return;
      const file = await rewriteGguf(f32Path, path.join(tmp, `${label}.gguf`), { matrixType: type });
      const r = spawnSync(
        bin,
        ["-cpu", "Haswell-noTSX", process.execPath, "--import", TSX_LOADER, "--input-type=module", "-e", CHILD, file],
        { encoding: "utf8", env: { ...process.env, INFUSE_THREADS: "2" }, timeout: 170_000 },
      );
      expect(r.status, r.stderr).toBe(0);
      const got = JSON.parse(r.stdout.trim().split("\n").pop()!) as { graphs: boolean; diff: number; largest: number };
      expect(got.graphs).toBe(true);
      // the bound of llama-layer-graph.test.ts: both paths round activations to int8 per block, in
      // different kernels' order, so a value on the other side of a rounding step moves a logit a step
      expect(got.diff).toBeLessThan(0.02 * got.largest);
    });
  }
});
