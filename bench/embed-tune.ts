// `npm run bench -- embed-tune [--shapes MiniLM-L6,bge-base] [--seq 64,256] [--queries 32] [--group 8]
// [--chunk 32] [--steps 2] [--threads N] [--inline]`: contrastive training throughput of the BERT encoder (full
// fine-tuning, AdamW) for random weights of MiniLM-L6's and bge-base's shapes: per step `queries` queries
// of 64 tokens and queries × group passages of `seq` tokens (one positive + group − 1 negatives each), as
// GradCache runs it — every text encoded once without a graph, InfoNCE on those vectors, then each chunk
// re-encoded with its graph and back-propagated with its vectors' gradients — because the whole step's
// activations do not fit (bge-base, seq 256: ~70 GB). Rows are right-padded: lengths uniform in [T/2, T].
// Prints pairs/s, tokens/s, MFU against numpy's 1024³ f32 matmul (the faster of a run just before and
// one just after each child), peak RSS.
// FLOPs: 6 × non-embedding params × real tokens + attention 12 × layers × hidden × Σ len² (QKᵀ and PV,
// forward + backward); GradCache's extra forward (2 × params × tokens) is not counted in `mfu`, it is in
// `mfu_executed`. Each shape runs in its own child process of compiled JavaScript (peak RSS per shape).
import { spawnSync } from "node:child_process";
import { availableParallelism, loadavg } from "node:os";
import { compiledBenchRunner, emit, log, numpyFlops, peakRssMb, cpuFigure } from "./emit.js";
import { flag } from "./shapes.js";
import { BertModel, type BertConfig, type BertLayer, type EncoderBatch } from "../src/models/bert/index.js";
import { Linear } from "../src/models/linear.js";
import { contrastiveLayout, infoNce } from "../src/train/embed/loss.js";
import { AdamW, noGrad, Rng, randn, rsqrt, mul, sum, Tensor } from "../src/tensor/index.js";

interface Shape {
  name: string;
  layers: number;
  hidden: number;
  heads: number;
  ffn: number;
  pooling: "mean" | "cls";
}

const SHAPES: Shape[] = [
  { name: "MiniLM-L6", layers: 6, hidden: 384, heads: 12, ffn: 1536, pooling: "mean" },
  { name: "bge-base", layers: 12, hidden: 768, heads: 12, ffn: 3072, pooling: "cls" },
];
const VOCAB = 30522;
const QUERY_SEQ = 64;

/** A BERT encoder of `s`'s shape with N(0, 0.02) weights (unit LayerNorm gains), every tensor trainable. */
export function randomBert(s: Shape, seed = 1): BertModel {
  const rng = new Rng(seed);
  const t = (shape: number[], std = 0.02) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const d = randn(rng, n, std);
    return new Tensor(d, shape, true);
  };
  const ones = (n: number) => Tensor.full([n], 1, true);
  const zeros = (n: number) => Tensor.zeros([n], true);
  const lin = (name: string, n: number, k: number) => new Linear(name, t([n, k]), zeros(n));
  const layers: BertLayer[] = Array.from({ length: s.layers }, (_, i) => ({
    q: lin(`blk.${i}.attn_q`, s.hidden, s.hidden),
    k: lin(`blk.${i}.attn_k`, s.hidden, s.hidden),
    v: lin(`blk.${i}.attn_v`, s.hidden, s.hidden),
    o: lin(`blk.${i}.attn_output`, s.hidden, s.hidden),
    attnNormW: ones(s.hidden),
    attnNormB: zeros(s.hidden),
    up: lin(`blk.${i}.ffn_up`, s.ffn, s.hidden),
    down: lin(`blk.${i}.ffn_down`, s.hidden, s.ffn),
    outNormW: ones(s.hidden),
    outNormB: zeros(s.hidden),
  }));
  const config: BertConfig = {
    arch: "bert",
    dim: s.hidden,
    layers: s.layers,
    heads: s.heads,
    ffnDim: s.ffn,
    vocabSize: VOCAB,
    maxPositions: 512,
    typeVocabSize: 2,
    eps: 1e-12,
    gelu: "erf",
    positionOffset: 0,
    maxTokens: 512,
    pooling: s.pooling,
  };
  const weights = {
    tokenEmbd: t([VOCAB, s.hidden]),
    positionEmbd: t([512, s.hidden]),
    tokenTypes: t([2, s.hidden]),
    embNormW: ones(s.hidden),
    embNormB: zeros(s.hidden),
    layers,
  };
  return new BertModel(config, weights);
}

/** `rows` right-padded rows of length t, each [CLS] + random word pieces + [SEP], lengths in [t/2, t]. */
function paddedBatch(rng: Rng, rows: number, t: number): EncoderBatch & { lengths: number[] } {
  const ids = new Int32Array(rows * t);
  const mask = new Uint8Array(rows * t);
  const lengths: number[] = [];
  for (let r = 0; r < rows; r++) {
    const len = Math.ceil(t / 2) + Math.floor(rng.uniform() * (t - Math.ceil(t / 2) + 1));
    lengths.push(len);
    ids[r * t] = 101;
    for (let i = 1; i < len - 1; i++) ids[r * t + i] = 1000 + Math.floor(rng.uniform() * 29000);
    ids[r * t + len - 1] = 102;
    mask.fill(1, r * t, r * t + len);
  }
  return { ids, batch: rows, attentionMask: mask, lengths };
}

/** Rows `rows` of a right-padded batch, cut to their longest row's length. */
function rowsOf(b: EncoderBatch, rows: number[]): EncoderBatch {
  const t = b.ids.length / b.batch;
  const mask = b.attentionMask!;
  const len = (r: number) => {
    let n = t;
    while (n > 1 && !mask[r * t + n - 1]) n--;
    return n;
  };
  const w = Math.max(...rows.map(len));
  const ids = new Int32Array(rows.length * w);
  const m = new Uint8Array(rows.length * w);
  rows.forEach((r, i) => {
    ids.set(b.ids.subarray(r * t, r * t + w), i * w);
    m.set(mask.subarray(r * t, r * t + w), i * w);
  });
  return { ids, batch: rows.length, attentionMask: m };
}

/** Row indices sorted by length (longest first) and cut into chunks: little padding per chunk. */
function chunkRows(b: EncoderBatch, chunk: number): number[][] {
  const t = b.ids.length / b.batch;
  const mask = b.attentionMask!;
  const lens = Array.from({ length: b.batch }, (_, r) => {
    let n = 0;
    for (let i = 0; i < t; i++) n += mask[r * t + i]!;
    return n;
  });
  const order = lens.map((_, r) => r).sort((x, y) => lens[y]! - lens[x]!);
  return Array.from({ length: Math.ceil(b.batch / chunk) }, (_, i) => order.slice(i * chunk, (i + 1) * chunk));
}

/** L2-normalised pooled vectors (B, C), differentiable. */
function embed(model: BertModel, b: EncoderBatch): Tensor {
  const v = model.encode(b, model.config.pooling ?? "mean");
  return mul(v, rsqrt(sum(mul(v, v), { axis: -1, keepDims: true })));
}

/**
 * One GradCache step: encode every text without a graph, the loss on those vectors, then re-encode each
 * chunk with its graph and back-propagate its vectors' gradients. Chunks hold texts of similar length
 * (sorted, each cut to its longest row), so little padding is computed; the loss is unchanged by it.
 */
export function contrastiveStep(
  model: BertModel,
  queries: EncoderBatch,
  passages: EncoderBatch,
  o: { group: number; tau: number; chunk: number },
): number {
  const c = model.config.dim;
  const plan = (b: EncoderBatch) => chunkRows(b, o.chunk).map((rows) => ({ rows, batch: rowsOf(b, rows) }));
  const [qc, pc] = [plan(queries), plan(passages)];
  const cache = (cs: ReturnType<typeof plan>, n: number) => {
    const all = new Float32Array(n * c);
    noGrad(() => {
      for (const ch of cs) {
        const v = embed(model, ch.batch).data;
        ch.rows.forEach((r, i) => all.set(v.subarray(i * c, (i + 1) * c), r * c));
      }
    });
    return new Tensor(all, [n, c], true);
  };
  const [qv, pv] = [cache(qc, queries.batch), cache(pc, passages.batch)];
  // the trainer's own loss: query i's positive is passage i·group, every other passage a negative
  const keys = Array.from({ length: passages.batch }, (_, j) => String(j));
  const positives = Array.from({ length: queries.batch }, (_, i) => [String(i * o.group)]);
  const { loss } = infoNce(qv, pv, contrastiveLayout(keys, o.group, positives, true), o.tau);
  loss.backward();
  const replay = (cs: ReturnType<typeof plan>, grads: Float32Array) => {
    for (const ch of cs) {
      const g = new Float32Array(ch.rows.length * c);
      ch.rows.forEach((r, i) => g.set(grads.subarray(r * c, (r + 1) * c), i * c));
      embed(model, ch.batch).backward({ grad: g });
    }
  };
  replay(qc, qv.grad!.data);
  replay(pc, pv.grad!.data);
  return loss.item();
}

function nonEmbeddingParams(s: Shape): number {
  const c = s.hidden;
  const perLayer = 4 * (c * c + c) + 2 * c * s.ffn + s.ffn + c + 4 * c;
  return s.layers * perLayer;
}

interface ChildResult {
  step_seconds: number;
  /** CPU time of the whole process (every thread) per step. */
  step_cpu_seconds: number;
  tokens: number;
  padded_tokens: number;
  attn_len2: number;
  peak_rss_mb: number;
  loss: number;
}

function child(s: Shape, seq: number, queries: number, group: number, chunk: number, steps: number): ChildResult {
  const model = randomBert(s);
  const params = model.parameters();
  const opt = new AdamW(params, { lr: 1e-5 });
  const rng = new Rng(7);
  const times: number[] = [];
  const cpu: number[] = [];
  let last: ReturnType<typeof paddedBatch>[] = [];
  let loss = 0;
  for (let i = 0; i <= steps; i++) {
    const n = i === 0 ? 1 : queries; // step 0 (one query) makes the kernel sessions, untimed
    const q = paddedBatch(rng, n, QUERY_SEQ);
    const p = paddedBatch(rng, n * group, seq);
    const [t0, c0] = [performance.now(), process.cpuUsage()];
    loss = contrastiveStep(model, q, p, { group, tau: 0.02, chunk });
    opt.step();
    for (const w of params) w.zeroGrad();
    if (i > 0) times.push((performance.now() - t0) / 1000);
    const c = process.cpuUsage(c0);
    if (i > 0) cpu.push((c.user + c.system) / 1e6);
    last = [q, p];
    log(`  step ${i}: ${((performance.now() - t0) / 1000).toFixed(1)} s, loss ${loss.toFixed(3)}`);
  }
  const lens = last.flatMap((b) => b.lengths);
  const r: ChildResult = {
    step_seconds: times.reduce((a, b) => a + b, 0) / times.length,
    step_cpu_seconds: cpu.reduce((a, b) => a + b, 0) / cpu.length,
    tokens: lens.reduce((a, b) => a + b, 0),
    padded_tokens: last.reduce((n, b) => n + b.ids.length, 0),
    attn_len2: lens.reduce((a, b) => a + b * b, 0),
    peak_rss_mb: peakRssMb(),
    loss,
  };
  return r;
}

export default async function main(args: string[]): Promise<void> {
  const num = (name: string, fallback: number) => Number(flag(args, name, String(fallback)));
  const [queries, group, chunk, steps] = [num("queries", 32), num("group", 8), num("chunk", 32), num("steps", 2)];
  const threads = num("threads", availableParallelism());
  const names = flag(args, "shapes", SHAPES.map((s) => s.name).join(",")).split(",");
  const seqs = flag(args, "seq", "64,256").split(",").map(Number);
  const childShape = flag(args, "child", "");
  if (childShape) {
    const s = SHAPES.find((x) => x.name === childShape)!;
    process.stdout.write(JSON.stringify(child(s, seqs[0]!, queries, group, chunk, steps)) + "\n");
    return;
  }
  emit({ ...cpuFigure("embed-tune"), threads, load_average: loadavg().map((l) => +l.toFixed(2)) });
  // --inline: measure in this process (no tsc build; its peak RSS then includes tsx's loader)
  const inline = args.includes("--inline");
  const runJs = inline ? "" : compiledBenchRunner();
  for (const name of names) {
    const s = SHAPES.find((x) => x.name === name);
    if (!s) throw new Error(`unknown shape ${name}: ${SHAPES.map((x) => x.name).join(", ")}`);
    for (const seq of seqs) {
      log(`${name}: ${queries} queries × ${QUERY_SEQ} + ${queries * group} passages × ${seq}, ${steps} steps`);
      const argv = [runJs, "embed-tune", "--child", name, "--seq", String(seq), "--queries", String(queries)];
      argv.push("--group", String(group), "--chunk", String(chunk), "--steps", String(steps));
      const env = { ...process.env, INFUSE_THREADS: String(threads) };
      const before = numpyFlops(threads);
      let f: ChildResult;
      if (inline) f = child(s, seq, queries, group, chunk, steps);
      else {
        const r = spawnSync(process.execPath, argv, { encoding: "utf8", env, maxBuffer: 1 << 24, stdio: "pipe" });
        process.stderr.write(r.stderr);
        const line = r.stdout.trim().split("\n").pop() ?? "";
        if (r.status !== 0 || !line.startsWith("{")) throw new Error(`${name} seq ${seq} failed (${r.status})`);
        f = JSON.parse(line) as ChildResult;
      }
      // numpy just before and after the child, the higher one: load from other jobs varies
      const after = numpyFlops(threads);
      const ref = before === null || after === null ? null : Math.max(before, after);
      const perCpu = numpyFlops(1, true);
      const n = nonEmbeddingParams(s);
      const flops = 6 * n * f.tokens + 12 * s.layers * s.hidden * f.attn_len2;
      const executed = flops + 2 * n * f.tokens + 4 * s.layers * s.hidden * f.attn_len2; // + GradCache's forward
      const perS = (x: number) => x / f.step_seconds;
      emit({
        bench: "embed-tune",
        model: name,
        query_seq: QUERY_SEQ,
        passage_seq: seq,
        queries,
        group,
        chunk,
        mode: "gradcache",
        process: inline ? "inline (tsx)" : "child (compiled)",
        threads,
        step_seconds: +f.step_seconds.toFixed(2),
        pairs_per_s: +perS(queries).toPrecision(3),
        tokens_per_s: Math.round(perS(f.tokens)),
        padded_tokens_per_s: Math.round(perS(f.padded_tokens)),
        achieved_gflops: +(perS(flops) / 1e9).toFixed(2),
        numpy_gflops: ref === null ? null : +(ref / 1e9).toFixed(2),
        mfu: ref === null ? null : +(perS(flops) / ref).toFixed(3),
        mfu_executed: ref === null ? null : +(perS(executed) / ref).toFixed(3),
        // FLOPs per CPU-second of this process ÷ numpy's per CPU-second on one thread: what a loaded machine
        // does not distort (wall-clock ratios swing with other jobs), but blind to idle threads
        step_cpu_seconds: +f.step_cpu_seconds.toFixed(2),
        mfu_cpu: perCpu === null ? null : +(flops / f.step_cpu_seconds / perCpu).toFixed(3),
        flops: "6·N·tokens + 12·L·C·Σlen² (N non-embedding params, real tokens)",
        non_embedding_params: n,
        peak_rss_mb: f.peak_rss_mb,
        load_average: loadavg().map((l) => +l.toFixed(2)),
      });
    }
  }
}
