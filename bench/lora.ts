// `npm run bench -- lora [--model PATH] [--seq 256] [--steps 4] [--bases f32,q4_0,nf4] [--checkpointing]`: LoRA training tokens/s, model FLOPs
// utilisation (achieved FLOP/s ÷ numpy's 1024³ matmul FLOP/s measured in the same run) and peak RSS,
// for an F32 base and a Q4_0/NF4 base (QLoRA, quantized as it loads). Each run is its own child process.
// Default models: random weights in stories15M's and SmolLM-135M's shapes.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { emit, log, peakRssMb } from "./emit.js";
import { archKey, GGUF_KEYS, GgmlType, kv, writeGguf, type GgufTensorInput } from "../src/formats/gguf/index.js";
import { loadLlama } from "../src/models/llama/load.js";
import { attachLora } from "../src/models/lora/index.js";
import { checkpointedLoss } from "../src/train/checkpointing.js";
import { AdamW, randn, Rng, type QuantType } from "../src/tensor/index.js";

const here = path.dirname(fileURLToPath(import.meta.url));

interface Shape {
  name: string;
  dim: number;
  layers: number;
  heads: number;
  kvHeads: number;
  ffn: number;
  vocab: number;
  tied: boolean;
}

const SHAPES: Shape[] = [
  { name: "stories15M", dim: 288, layers: 6, heads: 6, kvHeads: 6, ffn: 768, vocab: 32000, tied: false },
  { name: "SmolLM-135M", dim: 576, layers: 30, heads: 9, kvHeads: 3, ffn: 1536, vocab: 49152, tied: true },
];

function flag(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
}

/** A random-weight F32 GGUF of `shape` with a placeholder SentencePiece vocabulary (cached in tmp). */
async function makeModel(shape: Shape): Promise<string> {
  const dir = path.join(tmpdir(), "infuse-bench-lora");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${shape.name}-F32.gguf`);
  if (existsSync(file)) return file;
  log(`writing ${file}`);
  const { dim, ffn, vocab, heads, kvHeads } = shape;
  const hd = dim / heads;
  const rng = new Rng(1);
  const w = (name: string, dims: number[]): GgufTensorInput => {
    const n = dims.reduce((a, b) => a * b, 1);
    const data = dims.length === 1 ? new Float32Array(n).fill(1) : randn(rng, n, 1 / Math.sqrt(dims[0]!));
    return { name, dims, type: GgmlType.F32, data };
  };
  const a = (k: Parameters<typeof archKey>[1]) => archKey("llama", k);
  const tokens = ["<unk>", "<s>", "</s>", ...Array.from({ length: vocab - 3 }, (_, i) => `▁t${i}`)];
  const metadata = new Map([
    [GGUF_KEYS.architecture, kv.str("llama")],
    [GGUF_KEYS.name, kv.str(`${shape.name} random`)],
    [a("context_length"), kv.u32(2048)],
    [a("embedding_length"), kv.u32(dim)],
    [a("block_count"), kv.u32(shape.layers)],
    [a("feed_forward_length"), kv.u32(ffn)],
    [a("attention.head_count"), kv.u32(heads)],
    [a("attention.head_count_kv"), kv.u32(kvHeads)],
    [a("attention.layer_norm_rms_epsilon"), kv.f32(1e-5)],
    [a("rope.dimension_count"), kv.u32(hd)],
    [a("vocab_size"), kv.u32(vocab)],
    [GGUF_KEYS.tokenizerModel, kv.str("llama")],
    [GGUF_KEYS.tokens, kv.strs(tokens)],
    [GGUF_KEYS.scores, kv.f32s(tokens.map((_, i) => -i))],
    [GGUF_KEYS.tokenType, kv.i32s(tokens.map((_, i) => (i < 3 ? 3 : 1)))],
    [GGUF_KEYS.bosId, kv.u32(1)],
    [GGUF_KEYS.eosId, kv.u32(2)],
  ]);
  const tensors: GgufTensorInput[] = [w("token_embd.weight", [dim, vocab])];
  for (let l = 0; l < shape.layers; l++) {
    const p = `blk.${l}`;
    tensors.push(
      w(`${p}.attn_norm.weight`, [dim]),
      w(`${p}.attn_q.weight`, [dim, dim]),
      w(`${p}.attn_k.weight`, [dim, kvHeads * hd]),
      w(`${p}.attn_v.weight`, [dim, kvHeads * hd]),
      w(`${p}.attn_output.weight`, [dim, dim]),
      w(`${p}.ffn_norm.weight`, [dim]),
      w(`${p}.ffn_gate.weight`, [dim, ffn]),
      w(`${p}.ffn_up.weight`, [dim, ffn]),
      w(`${p}.ffn_down.weight`, [ffn, dim]),
    );
  }
  tensors.push(w("output_norm.weight", [dim]));
  if (!shape.tied) tensors.push(w("output.weight", [dim, vocab]));
  await writeGguf(file, { metadata, tensors });
  return file;
}

interface Figures {
  tokens_per_s: number;
  flops_per_token: number;
  peak_rss_mb: number;
}

/**
 * Child: LoRA (r 8, q_proj/v_proj) training steps on one sequence of `seq` tokens. FLOPs per token
 * count the matmuls a frozen-base LoRA step runs: forward 2·P (P = weights of every linear layer incl.
 * the output head) plus attention 2·2·T·C per layer (QKᵀ, AV over T keys), and backward to the inputs
 * the same again (no weight gradients for the frozen base), so 2 × forward. Adapter FLOPs are ignored.
 */
async function runChild(file: string, base: string, seq: number, steps: number, ckpt: boolean): Promise<Figures> {
  const quant = base === "f32" ? {} : { quantize: base as QuantType };
  const { model } = await loadLlama(file, quant);
  const set = attachLora(model, { r: 8, alpha: 16, targets: ["q_proj", "v_proj"], seed: 1 });
  const opt = new AdamW(set.params(), { lr: 1e-4 });
  const c = model.config;
  const rng = new Rng(3);
  const ids = Int32Array.from({ length: seq }, () => 3 + (rng.nextU32() % (c.vocabSize - 3)));
  const labels = Int32Array.from({ length: seq }, (_, i) => (i + 1 < seq ? ids[i + 1]! : -100));
  const step = (): void => {
    const batch = { ids, labels, batch: 1 };
    const loss = ckpt ? checkpointedLoss(model, batch, set.rng) : model.loss(batch);
    loss.backward();
    opt.step();
    opt.zeroGrad();
  };
  step(); // warm-up: kernel sessions
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) step();
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
  const model = flag(args, "model", "");
  if (child) {
    process.stdout.write(JSON.stringify(await runChild(model, child, seq, steps, ckpt)) + "\n");
    return;
  }
  const files = model ? [{ name: path.basename(model), file: path.resolve(model) }] : [];
  if (!model) for (const s of SHAPES) files.push({ name: s.name, file: await makeModel(s) });
  const bases = flag(args, "bases", "f32,q4_0,nf4").split(",");
  for (const { name, file } of files) {
    for (const base of bases) {
      log(`${name} ${base}: ${steps} steps of ${seq} tokens (${threads} threads)`);
      const r = spawnSync(
        process.execPath,
        [
          "--import",
          "tsx",
          path.join(here, "run.ts"),
          "lora",
          "--child",
          base,
          "--model",
          file,
          "--seq",
          String(seq),
          "--steps",
          String(steps),
          ...(ckpt ? ["--checkpointing"] : []),
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
        checkpointing: ckpt,
        tokens_per_s: Math.round(f.tokens_per_s * 10) / 10,
        achieved_gflops: Math.round(achieved / 1e7) / 100,
        numpy_gflops: ref === null ? null : Math.round(ref / 1e7) / 100,
        mfu: ref === null ? null : Math.round((achieved / ref) * 1000) / 1000,
        peak_rss_mb: f.peak_rss_mb,
      });
    }
  }
}
