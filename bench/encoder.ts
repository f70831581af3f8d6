// `npm run bench -- encoder [--layers 6] [--hidden 384] [--heads 12] [--ffn 1536] [--seq 128] [--batch 32]
// [--reps 3] [--no-llama]`: encoder throughput (texts/s, tokens/s) of infuse's BERT encoder (models/bert, tensor engine
// with onnxruntime kernels) next to onnxruntime running the same weights as one ONNX graph and llama.cpp
// (node-llama-cpp) embedding the same GGUF, in one run, same threads. Default: the MiniLM-L6 shape
// (random weights, the real MiniLM vocab), seq 128, batch 32. One JSON line per engine, plus the CPU.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { computeThreads } from "../src/core/threads.js";
import { loadBertGguf, type BertModel } from "../src/models/bert/index.js";
import { loadGgufModel } from "../src/rag/llm/llama-runtime.js";
import { encodeOnnxModel, noGrad, type OnnxInitializer, type OnnxNode } from "../src/tensor/index.js";
import { ortThreads } from "../src/tensor/kernels/ort.js";
import { writeTinyBertGguf } from "../test/helpers/tiny-bert-gguf.js";
import { emit, log, cpuFigure } from "./emit.js";
import { flag } from "./shapes.js";

interface Figures {
  seconds: number;
  texts: number;
  tokens: number;
}

function figure(engine: string, f: Figures, extra: Record<string, unknown> = {}) {
  return {
    bench: "encoder",
    engine,
    texts_per_s: +(f.texts / f.seconds).toFixed(1),
    tokens_per_s: Math.round(f.tokens / f.seconds),
    seconds: +f.seconds.toFixed(3),
    ...extra,
  };
}

/** CPU seconds (every thread of this process) of the cheapest of the last `best` call's runs. */
let lastCpu = 0;

/** Best of `reps` timed runs after one warm-up; the least CPU time of them goes to `lastCpu`. */
async function best(reps: number, run: () => Promise<void> | void): Promise<number> {
  await run();
  let min = Infinity;
  lastCpu = Infinity;
  for (let r = 0; r < reps; r++) {
    const [t0, c0] = [performance.now(), process.cpuUsage()];
    await run();
    min = Math.min(min, (performance.now() - t0) / 1000);
    const c = process.cpuUsage(c0);
    lastCpu = Math.min(lastCpu, (c.user + c.system) / 1e6);
  }
  return min;
}

/** The same encoder as one ONNX graph (last hidden state, then mean pooling), weights as initializers. */
function bertOnnx(model: BertModel): Uint8Array {
  const { dim, heads, layers, eps } = model.config;
  const w = model.weights;
  const d = dim / heads;
  const inits: OnnxInitializer[] = [];
  const nodes: OnnxNode[] = [];
  const init = (name: string, dims: number[], data: Float32Array | BigInt64Array) => {
    inits.push({ name, dims, data });
    return name;
  };
  const op = (o: string, inputs: string[], out: string, attributes?: OnnxNode["attributes"]) => {
    nodes.push({ op: o, inputs, outputs: [out], ...(attributes ? { attributes } : {}) });
    return out;
  };
  /** Wᵀ (K, N) from the (N, K) weight. */
  const transposed = (name: string, t: { data: Float32Array; shape: readonly number[] }) => {
    const [n, k] = t.shape as [number, number];
    const out = new Float32Array(n * k);
    for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) out[j * n + i] = t.data[i * k + j]!;
    return init(name, [k, n], out);
  };
  const linear = (x: string, name: string, lin: BertModel["weights"]["layers"][number]["q"]) => {
    const wt = transposed(`${name}.w`, lin.weight as { data: Float32Array; shape: readonly number[] });
    const b = init(`${name}.b`, [lin.outFeatures], lin.bias!.data);
    return op("Add", [op("MatMul", [x, wt], `${name}.mm`), b], `${name}.out`);
  };
  const ln = (x: string, name: string, g: Float32Array, b: Float32Array) =>
    op("LayerNormalization", [x, init(`${name}.g`, [dim], g), init(`${name}.bb`, [dim], b)], `${name}.out`, [
      { name: "axis", int: -1 },
      { name: "epsilon", float: eps },
    ]);
  init("split_heads", [4], BigInt64Array.from([0n, 0n, BigInt(heads), BigInt(d)]));
  init("merge_heads", [3], BigInt64Array.from([0n, 0n, BigInt(dim)]));
  init("scale", [], Float32Array.of(1 / Math.sqrt(d)));
  init("isq2", [], Float32Array.of(Math.SQRT1_2));
  init("one", [], Float32Array.of(1));
  init("half", [], Float32Array.of(0.5));
  init("word", [...w.tokenEmbd.shape], w.tokenEmbd.data);
  init("pos", [...w.positionEmbd.shape], w.positionEmbd.data);
  init("type0", [dim], w.tokenTypes!.data.slice(0, dim));
  const e = op("Add", [op("Gather", ["word", "input_ids"], "we"), op("Gather", ["pos", "position_ids"], "pe")], "e0");
  let x = ln(op("Add", [e, "type0"], "e1"), "emb", w.embNormW.data, w.embNormB.data);
  for (let l = 0; l < layers; l++) {
    const L = w.layers[l]!;
    const p = `l${l}`;
    const heads4 = (y: string, perm: number[], n: string) =>
      op("Transpose", [op("Reshape", [y, "split_heads"], `${n}.r`)], `${n}.t`, [{ name: "perm", ints: perm }]);
    const q = heads4(linear(x, `${p}.q`, L.q), [0, 2, 1, 3], `${p}.qh`); // (B, H, T, D)
    const k = heads4(linear(x, `${p}.k`, L.k), [0, 2, 3, 1], `${p}.kh`); // (B, H, D, T)
    const v = heads4(linear(x, `${p}.v`, L.v), [0, 2, 1, 3], `${p}.vh`);
    const s = op("Add", [op("Mul", [op("MatMul", [q, k], `${p}.qk`), "scale"], `${p}.s0`), "mask"], `${p}.s`);
    const a = op("MatMul", [op("Softmax", [s], `${p}.p`, [{ name: "axis", int: -1 }]), v], `${p}.a`);
    const merged = op(
      "Reshape",
      [op("Transpose", [a], `${p}.at`, [{ name: "perm", ints: [0, 2, 1, 3] }]), "merge_heads"],
      `${p}.am`,
    );
    x = ln(op("Add", [x, linear(merged, `${p}.o`, L.o)], `${p}.r1`), `${p}.n1`, L.attnNormW.data, L.attnNormB.data);
    const u = linear(x, `${p}.up`, L.up);
    const erf = op("Erf", [op("Mul", [u, "isq2"], `${p}.us`)], `${p}.erf`);
    const g = op("Mul", [op("Mul", [u, "half"], `${p}.uh`), op("Add", [erf, "one"], `${p}.e1`)], `${p}.gelu`);
    x = ln(op("Add", [x, linear(g, `${p}.down`, L.down)], `${p}.r2`), `${p}.n2`, L.outNormW.data, L.outNormB.data);
  }
  op("ReduceMean", [x], "pooled", [
    { name: "axes", ints: [1] },
    { name: "keepdims", int: 0 },
  ]);
  return encodeOnnxModel({
    opset: 17,
    inputs: [
      { name: "input_ids", type: "int64", dims: ["b", "t"] },
      { name: "position_ids", type: "int64", dims: ["b", "t"] },
      { name: "mask", type: "float", dims: ["b", 1, 1, "t"] },
    ],
    outputs: [{ name: "pooled", type: "float", dims: ["b", dim] }],
    nodes,
    initializers: inits,
  });
}

export default async function main(args: string[]): Promise<void> {
  const num = (name: string, fallback: number) => Number(flag(args, name, String(fallback)));
  const [layers, hidden, heads, ffn] = [num("layers", 6), num("hidden", 384), num("heads", 12), num("ffn", 1536)];
  const [seq, batch, reps] = [num("seq", 128), num("batch", 32), num("reps", 3)];
  const threads = computeThreads();
  emit({ ...cpuFigure("encoder"), threads, ort_threads: ortThreads() });
  const shape = { layers, hidden, heads, ffn, seq, batch };
  const tmp = await mkdtemp(path.join(os.tmpdir(), "infuse-bench-encoder-"));
  try {
    const file = await writeTinyBertGguf(path.join(tmp, "encoder.gguf"), {
      hidden,
      layers,
      heads,
      ff: ffn,
      context: Math.max(512, seq),
      seed: 1,
    });
    const { model, tokenizer } = await loadBertGguf(file);
    // random word pieces between [CLS] and [SEP], every row full (no padding)
    const cls = tokenizer.tokenId("[CLS]")!;
    const sep = tokenizer.tokenId("[SEP]")!;
    let s = 12345;
    const rand = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const rows = Array.from({ length: batch }, () => [
      cls,
      ...Array.from({ length: seq - 2 }, () => 1000 + Math.floor(rand() * 28000)),
      sep,
    ]);
    const ids = Int32Array.from(rows.flat());
    const texts = batch;
    const tokens = batch * seq;

    log(`engine: ${layers} layers × ${hidden} hidden, batch ${batch} × seq ${seq}`);
    const mask = new Uint8Array(ids.length).fill(1);
    const ours = await best(reps, () => {
      noGrad(() => model.encode({ ids, batch, attentionMask: mask }, "mean"));
    });
    const oursCpu = lastCpu;
    emit(figure("infuse", { seconds: ours, texts, tokens }, { ...shape, cpu_seconds: +oursCpu.toFixed(3) }));

    log("onnxruntime: the same weights as one ONNX graph");
    const session = await ort.InferenceSession.create(bertOnnx(model), {
      intraOpNumThreads: ortThreads(),
      interOpNumThreads: 1,
      graphOptimizationLevel: "all",
    });
    const feeds = {
      input_ids: new ort.Tensor(
        "int64",
        BigInt64Array.from(rows.flat(), (v) => BigInt(v)),
        [batch, seq],
      ),
      position_ids: new ort.Tensor(
        "int64",
        BigInt64Array.from({ length: batch * seq }, (_, i) => BigInt(i % seq)),
        [batch, seq],
      ),
      mask: new ort.Tensor("float32", new Float32Array(batch * seq), [batch, 1, 1, seq]),
    };
    const ortSeconds = await best(reps, async () => {
      await session.run(feeds);
    });
    const ortCpu = lastCpu;
    const [ref] = [(await session.run(feeds))["pooled"]!.data as Float32Array];
    const mine = noGrad(() => model.encode({ ids, batch, attentionMask: mask }, "mean")).data;
    let diff = 0;
    for (let i = 0; i < mine.length; i++) diff = Math.max(diff, Math.abs(mine[i]! - ref[i]!));
    await session.release();
    emit(
      figure(
        "onnxruntime",
        { seconds: ortSeconds, texts, tokens },
        { ...shape, cpu_seconds: +ortCpu.toFixed(3), max_abs_diff_vs_infuse: +diff.toExponential(2) },
      ),
    );
    // wall-clock ratio, and the CPU-time one (steadier when other jobs load the machine)
    const ratio = +(ortSeconds / ours).toFixed(3);
    emit({ bench: "encoder", figure: "infuse_vs_onnxruntime", ratio, cpu_ratio: +(ortCpu / oursCpu).toFixed(3) });
    if (args.includes("--no-llama")) return;

    log("llama.cpp: one sequence per evaluation, as node-llama-cpp embeds");
    const llm = await loadGgufModel(file);
    const ctx = await llm.createEmbeddingContext({ contextSize: seq + 8, batchSize: seq + 8, threads });
    const body = rows.map((r) => r.slice(1, -1) as never[]);
    const llamaSeconds = await best(reps, async () => {
      for (const r of body) await ctx.getEmbeddingFor(r);
    });
    await ctx.dispose();
    await llm.dispose();
    emit(figure("llama.cpp", { seconds: llamaSeconds, texts, tokens }, shape));
    emit({ bench: "encoder", figure: "infuse_vs_llama.cpp", ratio: +(llamaSeconds / ours).toFixed(3) });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
