// `npm run bench -- lora [--model PATH] [--seq 256] [--steps 8] [--bases f32,q4_0,nf4,bf16] [--no-checkpointing] [--dropout 0.05]`: LoRA training tokens/s, model FLOPs
// utilisation (achieved FLOP/s ÷ numpy's 1024³ matmul FLOP/s measured in the same run) and peak RSS,
// for an F32 base and a Q4_0/NF4 base (QLoRA, quantized as it loads), and the QLoRA peak over the F32
// peak; with bf16 in --bases, a base held in bf16 (--precision bf16) and its loss curve against the f32
// run's (its accuracy). Each run is its own child process of compiled JavaScript (tsc into .bench-build/, plain node),
// as `infuse tune` runs from dist/: under tsx the loader's own thread and heap added ~90 MB to every peak.
// Default models: random weights in stories15M's and SmolLM-135M's shapes.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { compiledBenchRunner, emit, log, numpyFlops, peakRssMb, cpuFigure } from "./emit.js";
import { flag, makeModel, SHAPES } from "./shapes.js";
import { openGguf } from "../src/formats/gguf/index.js";
import type { MetricLine } from "../src/train/metrics.js";
import { TUNE_DEFAULTS, type BaseQuant } from "../src/train/options.js";
import { tune } from "../src/train/tune.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

// the two shapes the issue names, written by the Llama benchmark's model writer
const LORA_SHAPES = SHAPES.filter((s) => s.name === "stories15M" || s.name === "SmolLM-135M");

interface Figures {
  /** Each step's training loss, first step included. */
  losses: number[];
  /** Over all timed steps: total tokens ÷ total seconds. */
  tokens_per_s: number;
  /** The median timed step's rate: what `mfu` uses, so one step slowed by a neighbour on a shared VM does not move it. */
  median_step_tokens_per_s: number;
  flops_per_token: number;
  peak_rss_mb: number;
}

/**
 * Child: `tune()` — the library call `infuse tune` makes, defaults and all (r 8, alpha 16, q_proj/v_proj,
 * dropout 0.05, AdamW, clipping, and for a quantized base checkpointing and Q8_0 vocabulary tables) —
 * on a text document cut into `seq`-token blocks, one block per step, for 1 + `steps` steps. Tokens/s
 * is over the steps after the first (kernel sessions are made in it), from the trainer's own per-step
 * figures: the median step's (the figure MFU uses) and all steps' total; peak RSS is the whole run's (load, data, training, writing the adapter).
 * FLOPs per token count the matmuls a frozen-base LoRA step runs: forward 2·P (P = weights of every
 * linear layer incl. the output head) plus attention 2·2·T·C per layer (QKᵀ, AV over T keys), and
 * backward to the inputs the same again (no weight gradients for the frozen base), so 2 × forward.
 * Adapter FLOPs and recomputation (checkpointing) are not counted.
 */
async function runChild(
  file: string,
  base: string,
  seq: number,
  steps: number,
  checkpointing: boolean,
  doc: string,
  dropout: number,
): Promise<Figures> {
  const out = mkdtempSync(path.join(tmpdir(), "infuse-bench-lora-"));
  const lines: MetricLine[] = [];
  try {
    await tune(
      {
        model: file,
        data: [{ path: doc, format: "text" }],
        maxLength: seq,
        maxSteps: steps + 1,
        batchSize: 1,
        valFraction: 0,
        dropout,
        out,
        ...(base === "f32" ? {} : base === "bf16" ? { precision: "bf16" as const } : { quantize: base as BaseQuant }),
        gradientCheckpointing: checkpointing,
      },
      { onMetric: (m) => m.tokens !== undefined && m.tokens_per_s !== undefined && lines.push(m) },
    );
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  // `tokens` is cumulative; each line's tokens_per_s is that step's tokens over the step's own time
  let [tokens, seconds] = [0, 0];
  const rates: number[] = [];
  for (let i = 1; i < lines.length; i++) {
    const n = lines[i]!.tokens! - lines[i - 1]!.tokens!;
    tokens += n;
    seconds += n / lines[i]!.tokens_per_s!;
    rates.push(lines[i]!.tokens_per_s!);
  }
  const losses = lines.flatMap((l) => (l.loss === undefined ? [] : [l.loss]));
  rates.sort((a, b) => a - b);
  return {
    losses,
    tokens_per_s: tokens / seconds,
    median_step_tokens_per_s: rates[Math.floor(rates.length / 2)]!,
    flops_per_token: await flopsPerToken(file, seq),
    peak_rss_mb: peakRssMb(),
  };
}

/** 2 × (2·P_linear + 4·L·T·C) from the GGUF's tensor shapes (the output head is token_embd when tied). */
async function flopsPerToken(file: string, seq: number): Promise<number> {
  const g = await openGguf(file);
  try {
    const linear = /^blk\.\d+\.(attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down)\.weight$/;
    const byName = new Map(g.tensors.map((t) => [t.name, t]));
    let params = 0;
    let layers = 0;
    let qRows = 0;
    for (const t of g.tensors) {
      if (linear.test(t.name)) params += t.elementCount;
      if (t.name.endsWith(".attn_q.weight")) [layers, qRows] = [layers + 1, t.dims[1]!];
    }
    params += (byName.get("output.weight") ?? byName.get("token_embd.weight"))!.elementCount;
    return 2 * (2 * params + layers * 4 * seq * qRows);
  } finally {
    g.close();
  }
}

/**
 * A text document for the children to train on: abstracts from the SciFact corpus fixture, enough for
 * `blocks` blocks of `seq` tokens at ~1.3 tokens per word. Written once into the temp folder.
 */
function trainingDocument(seq: number, blocks: number): string {
  const file = path.join(tmpdir(), `infuse-bench-lora-${seq}x${blocks}.txt`);
  if (existsSync(file)) return file;
  const corpus = path.resolve(root, "../shared/fixtures/datasets/scifact/corpus.jsonl");
  if (!existsSync(corpus)) throw new Error(`${corpus} is missing: the LoRA benchmark trains on its abstracts`);
  const words = Math.ceil((seq * blocks) / 1.3) * 2;
  const parts: string[] = [];
  let n = 0;
  for (const line of readFileSync(corpus, "utf8").split("\n")) {
    if (!line.trim() || n >= words) continue;
    const r = JSON.parse(line) as { title?: string; abstract?: string[] | string; text?: string };
    const text = `${r.title ?? ""}. ${Array.isArray(r.abstract) ? r.abstract.join(" ") : (r.abstract ?? r.text ?? "")}`;
    parts.push(text);
    n += text.split(/\s+/).length;
  }
  writeFileSync(file, parts.join("\n\n"));
  return file;
}

export default async function main(args: string[]): Promise<void> {
  const seq = Number(flag(args, "seq", "256"));
  const steps = Number(flag(args, "steps", "8"));
  const threads = Number(flag(args, "threads", String(availableParallelism())));
  const child = flag(args, "child", "");
  // the trainer's default is checkpointed (fused) blocks; --no-checkpointing keeps activations op by op
  const checkpointing = !args.includes("--no-checkpointing");
  const dropout = Number(flag(args, "dropout", String(TUNE_DEFAULTS.dropout)));
  const model = flag(args, "model", "");
  if (child) {
    const doc = flag(args, "doc", "");
    process.stdout.write(JSON.stringify(await runChild(model, child, seq, steps, checkpointing, doc, dropout)) + "\n");
    return;
  }
  // the machine's SIMD flags and load: MFU is a ratio to numpy measured beside each run, but a busy
  // machine moves the two differently
  emit({ ...cpuFigure("lora"), load_average: loadavg().map((l) => Math.round(l * 100) / 100) });
  const files = model ? [{ name: path.basename(model), file: path.resolve(model) }] : [];
  if (!model) for (const s of LORA_SHAPES) files.push({ name: s.name, file: await makeModel(s, "F32") });
  const bases = flag(args, "bases", "f32,q4_0,nf4").split(",");
  const runJs = compiledBenchRunner();
  const doc = trainingDocument(seq, steps + 2);
  for (const { name, file } of files) {
    const peaks = new Map<string, number>();
    const curves = new Map<string, number[]>();
    for (const base of bases) {
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
          "--doc",
          doc,
          ...(checkpointing ? [] : ["--no-checkpointing"]),
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
      const achieved = f.median_step_tokens_per_s * f.flops_per_token;
      const achievedMean = f.tokens_per_s * f.flops_per_token;
      emit({
        bench: "lora",
        model: name,
        base,
        seq,
        threads,
        checkpointing,
        steps,
        tokens_per_s: Math.round(f.median_step_tokens_per_s * 10) / 10,
        achieved_gflops: Math.round(achieved / 1e7) / 100,
        numpy_gflops: ref === null ? null : Math.round(ref / 1e7) / 100,
        mfu: ref === null ? null : Math.round((achieved / ref) * 1000) / 1000,
        // the same over all timed steps (total tokens ÷ total time), for comparison with the median
        mfu_mean: ref === null ? null : Math.round((achievedMean / ref) * 1000) / 1000,
        peak_rss_mb: f.peak_rss_mb,
        load_average: Math.round(loadavg()[0]! * 100) / 100,
      });
      peaks.set(base, f.peak_rss_mb);
      curves.set(base, f.losses);
    }
    // the memory figure: each QLoRA base's peak over the F32 base's, same model, same run
    const f32 = peaks.get("f32");
    for (const [base, peak] of peaks) {
      if (base === "f32" || f32 === undefined) continue;
      emit({ bench: "lora", model: name, base, peak_rss_ratio_to_f32: Math.round((peak / f32) * 1000) / 1000 });
    }
    // bf16's accuracy: its loss curve against the f32 run's, step by step (same data, seed and dropout)
    const [ref, half] = [curves.get("f32"), curves.get("bf16")];
    if (ref && half) {
      const rel = half.map((l, i) => Math.abs(l - ref[i]!) / Math.abs(ref[i]!));
      emit({
        bench: "lora",
        model: name,
        base: "bf16",
        steps: rel.length,
        loss_f32: ref.map((l) => Math.round(l * 1e4) / 1e4),
        loss_bf16: half.map((l) => Math.round(l * 1e4) / 1e4),
        max_rel_loss_diff: Math.max(...rel),
      });
    }
  }
}
