// `npm run bench -- matmul [--quick]`: fp32 matmul GFLOP/s of our kernel next to numpy (same shapes,
// same run), quantized-weight matmuls next to fp32, and the TypeScript/onnxruntime crossover for small shapes.
import { execFileSync } from "node:child_process";
import os from "node:os";
import { cpuFeatures } from "../src/tensor/kernels/cpu.js";
import { emit, log, peakRssMb, cpuFigure } from "./emit.js";
import { matmulKernel, setMatmulPath, type MatmulDims } from "../src/tensor/kernels/kernel.js";
import { Rng, randn } from "../src/tensor/rng.js";
import { CODECS, quantize, type QuantTensor, type QuantType } from "../src/tensor/quant/formats.js";
import { qmatmul, qmatmulRaw, qmatmulTiled } from "../src/tensor/quant/qmatmul.js";
import { Tensor } from "../src/tensor/tensor.js";
import { add, mul, square } from "../src/tensor/ops/elementwise.js";
import { matmul } from "../src/tensor/ops/matmul.js";
import { mean } from "../src/tensor/ops/reduce.js";
import { permute, reshape } from "../src/tensor/ops/layout.js";
import { rmsNorm } from "../src/tensor/ops/norm.js";
import { silu } from "../src/tensor/ops/activation.js";
import { rope } from "../src/tensor/ops/rope.js";
import { attention } from "../src/tensor/ops/attention.js";
import { AdamW } from "../src/tensor/optim/adamw.js";
import { clipGradNorm } from "../src/tensor/optim/grads.js";

const SHAPES: [number, number, number][] = [
  [1024, 1024, 1024],
  [2048, 2048, 2048],
  [256, 576, 1536],
  [256, 1536, 576],
  [1, 576, 49152],
];

/** Median seconds per call over enough repetitions to fill ~`budget` seconds. */
function timeIt(fn: () => void, budget: number): number {
  fn();
  const t0 = performance.now();
  fn();
  const once = (performance.now() - t0) / 1000;
  const reps = Math.max(3, Math.min(50, Math.round(budget / Math.max(once, 1e-6))));
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    fn();
    times.push((performance.now() - t) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

const NUMPY = `
import json, sys, time, numpy as np
out = {}
for m, k, n in json.loads(sys.argv[1]):
    a = np.random.rand(m, k).astype(np.float32); b = np.random.rand(k, n).astype(np.float32)
    a @ b
    reps = max(3, min(50, int(float(sys.argv[2]) / max(1e-6, (lambda t: (a @ b, time.perf_counter() - t)[1])(time.perf_counter())))))
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); a @ b; ts.append(time.perf_counter() - t)
    ts.sort(); out[f"{m}x{k}x{n}"] = ts[len(ts) // 2]
print(json.dumps(out))
`;

function numpySeconds(shapes: [number, number, number][], budget: number): Record<string, number> | null {
  const env = { ...process.env };
  delete env["OPENBLAS_CORETYPE"];
  delete env["OPENBLAS_L2_SIZE"];
  try {
    const text = execFileSync("python3", ["-c", NUMPY, JSON.stringify(shapes), String(budget)], {
      env,
      encoding: "utf8",
    });
    return JSON.parse(text) as Record<string, number>;
  } catch (e) {
    log(`numpy reference unavailable: ${String(e)}`);
    return null;
  }
}

/**
 * Median seconds of `fn` and the median of its time over `base`'s, the two run alternately so a change
 * in load (the CPU is shared) hits both sides of each ratio.
 */
function timeVs(fn: () => void, base: () => void, budget: number): { s: number; ratio: number } {
  fn();
  base();
  const times: number[] = [];
  const ratios: number[] = [];
  const t0 = performance.now();
  while (times.length < 5 || (performance.now() - t0 < budget * 2000 && times.length < 60)) {
    let t = performance.now();
    base();
    const b = performance.now() - t;
    t = performance.now();
    fn();
    times.push((performance.now() - t) / 1000);
    ratios.push(times[times.length - 1]! / (b / 1000));
  }
  const mid = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { s: mid(times), ratio: mid(ratios) };
}

const gflops = (m: number, k: number, n: number, s: number): number => Number(((2 * m * k * n) / s / 1e9).toFixed(2));

export default async function main(args: string[]): Promise<void> {
  const budget = args.includes("--quick") ? 0.3 : 1.5;
  if (args.includes("--step")) return trainStep(new Rng(2), budget); // the training step alone
  emit({ ...cpuFigure("matmul"), int8_dot: cpuFeatures().int8Dot, load_average: os.loadavg() });
  const rng = new Rng(1);
  for (const [m, k, n] of SHAPES) {
    log(`f32 ${m}×${k}×${n} …`);
    const ref = numpySeconds([[m, k, n]], budget); // per shape, next to ours, so load changes hit both
    const a = randn(rng, m * k);
    const b = randn(rng, k * n);
    const out = new Float32Array(m * n);
    const dims: MatmulDims = { batch: 1, m, k, n, transA: false, transB: false, bBatched: true };
    const s = timeIt(() => matmulKernel(a, b, out, dims), budget);
    const refS = ref?.[`${m}x${k}x${n}`];
    const ours = gflops(m, k, n, s);
    const theirs = refS === undefined ? null : gflops(m, k, n, refS);
    emit({
      bench: "matmul",
      m,
      k,
      n,
      dtype: "f32",
      gflops: ours,
      ref_gflops: theirs,
      ratio: theirs ? Number((ours / theirs).toFixed(3)) : null,
    });
  }

  // Linear layers: x (M, K) · Wᵀ with W (N, K) stored f32 or block-quantized, as GGUF stores weights.
  // The 64/128/192-row shapes bracket Q8_0's switch from the int8 kernel to dequantized tiles.
  for (const [m, k, n] of [
    [256, 576, 1536],
    [256, 1536, 576],
    [1024, 1024, 1024],
    [1, 576, 49152],
    [64, 576, 1536],
    [128, 576, 1536],
    [192, 576, 1536],
  ] as const) {
    const x = randn(rng, m * k);
    const w = randn(rng, n * k, 0.05);
    const out = new Float32Array(m * n);
    const dims: MatmulDims = { batch: 1, m, k, n, transA: false, transB: true, bBatched: true };
    const dense = (): void => matmulKernel(x, w, out, dims);
    const f32 = timeIt(dense, budget);
    emit({ bench: "matmul", m, k, n, dtype: "f32", layout: "x·Wᵀ", gflops: gflops(m, k, n, f32) });
    for (const type of ["q8_0", "q4_0", "q4_k", "nf4"] as QuantType[]) {
      if (k % CODECS[type].blockValues !== 0) continue; // Q4_K needs rows of 256 multiples
      const q = quantize(type, w, [n, k]);
      // "auto" is what qmatmulRaw picks (MatMulNBits for Q4_0, and Q8_0 up to q8Int8Rows(): every M with VNNI);
      // "tiled" dequantizes (the exact path a recorded, training forward takes).
      const paths: [string, () => void][] = [["auto", () => qmatmulRaw(x, q, out, m)]];
      if (type === "q4_0" || type === "q8_0") paths.push(["tiled", () => qmatmulTiled(x, q, out, m)]);
      for (const [path, fn] of paths) {
        const { s, ratio: r } = timeVs(fn, dense, budget);
        const ratio = Number(r.toFixed(3));
        emit({
          bench: "matmul",
          m,
          k,
          n,
          dtype: type,
          layout: "x·Wᵀ",
          path,
          gflops: gflops(m, k, n, s),
          time_vs_f32: ratio,
        });
      }
    }
  }

  // Crossover: per-call time of each path on small square products.
  for (const size of [8, 16, 24, 32, 48, 64, 96]) {
    const a = randn(rng, size * size);
    const out = new Float32Array(size * size);
    const dims: MatmulDims = { batch: 1, m: size, k: size, n: size, transA: false, transB: false, bBatched: true };
    const us: Record<string, number> = {};
    for (const path of ["reference", "ort"] as const) {
      setMatmulPath(path);
      us[path] = Number((timeIt(() => matmulKernel(a, a, out, dims), budget / 5) * 1e6).toFixed(2));
    }
    setMatmulPath("auto");
    emit({
      bench: "matmul_crossover",
      m: size,
      k: size,
      n: size,
      macs: size ** 3,
      reference_us: us["reference"],
      ort_us: us["ort"],
    });
  }
  await trainStep(rng, budget);
  emit({ bench: "matmul", peak_rss_mb: peakRssMb() });
}

/**
 * One LoRA training step of a Llama-shaped block (SmolLM-135M dims: D 576, 9 heads / 3 KV heads, FFN
 * 1536) on frozen Q4_0 weights with rank-8 adapters on q and v: forward, backward, AdamW. Prints ms per
 * step and the resident memory it added over the weights.
 */
async function trainStep(rng: Rng, budget: number): Promise<void> {
  const [B, T, D, H, HKV, F, R] = [4, 64, 576, 9, 3, 1536, 8];
  const hd = D / H;
  const frozen = (n: number, k: number) => quantize("q4_0", randn(rng, n * k, 0.02), [n, k]);
  const w = { q: frozen(D, D), k: frozen(HKV * hd, D), v: frozen(HKV * hd, D), o: frozen(D, D) };
  const mlp = { gate: frozen(F, D), up: frozen(F, D), down: frozen(D, F) };
  const norm = Tensor.full([D], 1);
  const lora = (n: number, k: number) => ({
    a: new Tensor(randn(rng, R * k, 0.02), [R, k], true),
    b: Tensor.zeros([n, R], true),
  });
  const lq = lora(D, D);
  const lv = lora(HKV * hd, D);
  const params = [lq.a, lq.b, lv.a, lv.b];
  const opt = new AdamW(params, { lr: 1e-3 });
  const x = new Tensor(randn(rng, B * T * D), [B, T, D]);
  const pos = Int32Array.from({ length: T }, (_, i) => i);
  const linear = (h: Tensor, q: QuantTensor, l?: { a: Tensor; b: Tensor }) => {
    const base = qmatmul(h, q); // (B, T, N)
    return l ? add(base, matmul(matmul(h, l.a, { transB: true }), l.b, { transB: true })) : base;
  };
  const heads = (t: Tensor, n: number) => permute(reshape(t, [B, T, n, hd]), [0, 2, 1, 3]); // (B, n, T, hd)
  const step = () => {
    opt.zeroGrad();
    const h = rmsNorm(x, norm); // (B, T, D)
    const q = rope(heads(linear(h, w.q, lq), H), pos, { layout: "half" });
    const k = rope(heads(linear(h, w.k), HKV), pos, { layout: "half" });
    const v = heads(linear(h, w.v, lv), HKV);
    const att = reshape(permute(attention(q, k, v, { causal: true }), [0, 2, 1, 3]), [B, T, D]);
    const x1 = add(x, linear(att, w.o));
    const h2 = rmsNorm(x1, norm);
    const out = add(x1, linear(mul(silu(linear(h2, mlp.gate)), linear(h2, mlp.up)), mlp.down));
    const loss = mean(square(out));
    loss.backward();
    clipGradNorm(params, 1);
    opt.step();
  };
  const rssBefore = peakRssMb();
  const s = timeIt(step, budget * 2);
  emit({
    bench: "train_step",
    shape: `B${B} T${T} D${D} H${H}/${HKV} F${F} lora r${R} q4_0`,
    ms: Number((s * 1000).toFixed(1)),
    peak_rss_mb: peakRssMb(),
    rss_added_mb: peakRssMb() - rssBefore,
  });
}
