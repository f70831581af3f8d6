// `npm run bench -- lora [--model PATH] [--seq 256] [--steps 4] [--bases f32,q4_0,nf4] [--checkpointing]`: LoRA training tokens/s, model FLOPs
// utilisation (achieved FLOP/s ÷ numpy's 1024³ matmul FLOP/s measured in the same run) and peak RSS,
// for an F32 base and a Q4_0/NF4 base (QLoRA, quantized as it loads), and the QLoRA peak over the F32
// peak. Each run is its own child process of compiled JavaScript (tsc into .bench-build/, plain node),
// as `infuse tune` runs from dist/: under tsx the loader's own thread and heap added ~90 MB to every peak.
// Default models: random weights in stories15M's and SmolLM-135M's shapes.
import { execFileSync, spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";
import path from "node:path";
import { compiledBenchRunner, emit, log, peakRssMb } from "./emit.js";
import { flag, makeModel, SHAPES } from "./shapes.js";
import { loadLlama } from "../src/models/llama/load.js";
import { attachLora } from "../src/models/lora/index.js";
import { localGradStep } from "../src/train/trainer.js";
import { quantizeFrozenTables } from "../src/train/frozen.js";
import { defaultGradientCheckpointing, TUNE_DEFAULTS, type BaseQuant } from "../src/train/options.js";
import { AdamW, clipGradNorm, Rng, type QuantType } from "../src/tensor/index.js";

// the two shapes the issue names, written by the Llama benchmark's model writer
const LORA_SHAPES = SHAPES.filter((s) => s.name === "stories15M" || s.name === "SmolLM-135M");

interface Figures {
  tokens_per_s: number;
  flops_per_token: number;
  peak_rss_mb: number;
}

/**
 * Child: LoRA (r 8, q_proj/v_proj) training steps on one sequence of `seq` tokens, each the trainer's
 * micro-step (`localGradStep`), gradient clipping and AdamW. FLOPs per token
 * count the matmuls a frozen-base LoRA step runs: forward 2·P (P = weights of every linear layer incl.
 * the output head) plus attention 2·2·T·C per layer (QKᵀ, AV over T keys), and backward to the inputs
 * the same again (no weight gradients for the frozen base), so 2 × forward. Adapter FLOPs are ignored.
 */
async function runChild(
  file: string,
  base: string,
  seq: number,
  steps: number,
  ckpt: boolean,
  dropout: number,
): Promise<Figures> {
  const quant = base === "f32" ? {} : { quantize: base as QuantType };
  const { model } = await loadLlama(file, quant);
  if (base !== "f32") quantizeFrozenTables(model); // as `infuse tune --quantize` holds the base
  // the trainer's defaults: r 8, alpha 16, q_proj/v_proj, dropout 0.05 (`--dropout` overrides)
  const set = attachLora(model, { r: 8, alpha: 16, targets: ["q_proj", "v_proj"], seed: 1, dropout });
  const opt = new AdamW(set.params(), { lr: 1e-4 });
  const c = model.config;
  const rng = new Rng(3);
  const ids = Int32Array.from({ length: seq }, () => 3 + (rng.nextU32() % (c.vocabSize - 3)));
  const labels = Int32Array.from({ length: seq }, (_, i) => (i + 1 < seq ? ids[i + 1]! : -100));
  // the trainer's own micro-step (collate, loss, backward), then clipping and AdamW as `train` runs them
  const gradStep = localGradStep(model, [{ ids, labels }], 0, ckpt ? set.rng : undefined);
  const params = set.params();
  const step = async (): Promise<void> => {
    opt.zeroGrad();
    await gradStep([[0]], 0);
    clipGradNorm(params, 1);
    opt.step();
  };
  await step(); // warm-up: kernel sessions
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await step();
  const seconds = (performance.now() - t0) / 1000;
  let linearParams = 0;
  for (const lin of model.linears().values()) linearParams += lin.inFeatures * lin.outFeatures;
  const attention = c.layers * 2 * 2 * seq * c.heads * c.headDim;
  return {
    tokens_per_s: (steps * seq) / seconds,
    flops_per_token: 2 * (2 * linearParams + attention),
    peak_rss_mb: peakRssMb(),
  };
}

/** numpy's fp32 1024³ matmul FLOP/s with the same thread count (median of several). */
function numpyFlops(threads: number): number | null {
  const code = `
import time, numpy as np
a = np.random.rand(1024, 1024).astype(np.float32); b = np.random.rand(1024, 1024).astype(np.float32)
a @ b
ts = []
for _ in range(15):
    t = time.perf_counter(); a @ b; ts.append(time.perf_counter() - t)
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

export default async function main(args: string[]): Promise<void> {
  const seq = Number(flag(args, "seq", "256"));
  const steps = Number(flag(args, "steps", "4"));
  const threads = Number(flag(args, "threads", String(availableParallelism())));
  const child = flag(args, "child", "");
  const ckpt = args.includes("--checkpointing");
  const dropout = Number(flag(args, "dropout", String(TUNE_DEFAULTS.dropout)));
  const model = flag(args, "model", "");
  if (child) {
    process.stdout.write(JSON.stringify(await runChild(model, child, seq, steps, ckpt, dropout)) + "\n");
    return;
  }
  const files = model ? [{ name: path.basename(model), file: path.resolve(model) }] : [];
  if (!model) for (const s of LORA_SHAPES) files.push({ name: s.name, file: await makeModel(s, "F32") });
  const bases = flag(args, "bases", "f32,q4_0,nf4").split(",");
  const runJs = compiledBenchRunner();
  for (const { name, file } of files) {
    const peaks = new Map<string, number>();
    for (const base of bases) {
      const ck = ckpt || defaultGradientCheckpointing(base === "f32" ? undefined : (base as BaseQuant)); // the trainer's default
      log(`${name} ${base}: ${steps} steps of ${seq} tokens (${threads} threads)`);
      const r = spawnSync(
        process.execPath,
        [
          runJs,
          "lora",
          "--child",
          base,
          "--model",
          file,
          "--seq",
          String(seq),
          "--steps",
          String(steps),
          "--dropout",
          String(dropout),
          ...(ck ? ["--checkpointing"] : []),
        ],
        {
          encoding: "utf8",
          env: { ...process.env, INFUSE_THREADS: String(threads) },
          maxBuffer: 1 << 24,
        },
      );
      const line = r.stdout.trim().split("\n").pop() ?? "";
      if (r.status !== 0 || !line.startsWith("{"))
        throw new Error(`${name} ${base} failed (${r.status}): ${r.stderr.slice(-2000)}`);
      const f = JSON.parse(line) as Figures;
      const ref = numpyFlops(threads); // measured beside each run: the machine's load changes
      const achieved = f.tokens_per_s * f.flops_per_token;
      emit({
        bench: "lora",
        model: name,
        base,
        seq,
        threads,
        checkpointing: ck,
        tokens_per_s: Math.round(f.tokens_per_s * 10) / 10,
        achieved_gflops: Math.round(achieved / 1e7) / 100,
        numpy_gflops: ref === null ? null : Math.round(ref / 1e7) / 100,
        mfu: ref === null ? null : Math.round((achieved / ref) * 1000) / 1000,
        peak_rss_mb: f.peak_rss_mb,
      });
      peaks.set(base, f.peak_rss_mb);
    }
    // the memory figure: each QLoRA base's peak over the F32 base's, same model, same run
    const f32 = peaks.get("f32");
    for (const [base, peak] of peaks) {
      if (base === "f32" || f32 === undefined) continue;
      emit({ bench: "lora", model: name, base, peak_rss_ratio_to_f32: Math.round((peak / f32) * 1000) / 1000 });
    }
  }
}
