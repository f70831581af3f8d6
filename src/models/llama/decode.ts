// Incremental decoding with a KV cache: the inference forward over raw f32 arrays (no graph, buffers
// reused), prompts in chunks of up to 512 tokens, matmuls through the engine's kernels. One sequence.
// Shapes: T new tokens, S cached + new, C hidden, H heads, Hkv kv heads, G = H/Hkv, D head size, F ffn, V vocab.
import { InfuseError } from "../../core/errors.js";
import { noGrad, QuantTensor } from "../../tensor/index.js";
import { matmulKernel } from "../../tensor/kernels/kernel.js";
import { FUSED_MIN_FFN, FUSED_MIN_SCORES, fusedAttention, fusedAvailable, fusedSwiglu } from "./fused.js";
import { LayerGraphs } from "./layer-graph.js";
import type { LlamaModel } from "./model.js";
import type { LlamaLayer } from "./weights.js";

const CHUNK = 512;
/**
 * Prompt chunk where the layer graphs hold f32 weights (read from the file). Each graph's largest
 * intermediates grow with T·(S+T) (attention scores) and come from the malloc heap, which keeps them:
 * SmolLM-135M 128 → peak RSS ~765 MB, 943 prompt tokens/s; 512 → ~920–970 MB, 1,050–1,080;
 * TinyLlama-1.1B 64 / 128 / 256 / 512 → 120–125 / 130 / 73–94 / 51–65 tokens/s.
 */
const HELD_CHUNK = 128;
/**
 * Prompt chunk where they hold quantized weights. SmolLM-135M Q8_0, 512-token prompts, 2 threads, bench
 * child: 512 → peak RSS 525–766 MB; 128 → 400–412, 64 → 379–389, 32 → 376–377 (weights read from a
 * file, initializer-file.ts); prompts alternating 64 and 128 in one process: the same tokens/s within
 * the VM's noise. It also keeps Q8_0 on the int8 kernel's side of its crossover with the exact tiles
 * on CPUs without int8 dot products (qmatmul.ts's Q8_INT8_MAX_ROWS_NO_DOT), so their graphs take Q8_0.
 */
const QUANT_CHUNK = 64;

/** The prompt chunk for a model's layer graphs (null: none apply). */
function promptChunk(graphs: LayerGraphs | null): number {
  if (graphs?.quantized) return QUANT_CHUNK;
  return graphs?.holdsWeights ? HELD_CHUNK : CHUNK;
}

/** Keys and values of every layer, (Hkv, capacity, D) each, grown as tokens arrive. */
export class KvCache {
  k: Float32Array[] = [];
  v: Float32Array[] = [];
  capacity = 0;
  /** Tokens held. */
  length = 0;

  constructor(
    readonly layers: number,
    readonly kvHeads: number,
    readonly headDim: number,
    readonly maxLength: number,
  ) {}

  /** Makes room for `n` tokens (doubling), keeping what is cached. */
  reserve(n: number): void {
    if (n > this.maxLength) {
      throw new InfuseError("model.context_full", `${n} tokens exceed the model's context of ${this.maxLength}`, {
        kind: "input",
        hint: "shorten the prompt or ask for fewer tokens",
      });
    }
    if (n <= this.capacity) return;
    const cap = Math.min(this.maxLength, Math.max(n, this.capacity * 2, 64));
    const d = this.headDim;
    const grow = (old: Float32Array | undefined): Float32Array => {
      const next = new Float32Array(this.kvHeads * cap * d);
      if (old)
        for (let g = 0; g < this.kvHeads; g++)
          next.set(old.subarray(g * this.capacity * d, (g * this.capacity + this.length) * d), g * cap * d);
      return next;
    };
    for (let l = 0; l < this.layers; l++) {
      this.k[l] = grow(this.k[l]);
      this.v[l] = grow(this.v[l]);
    }
    this.capacity = cap;
  }

  /** Forgets tokens from `n` on (keeps a shared prefix). */
  truncate(n: number): void {
    this.length = Math.min(this.length, n);
  }
}

export interface EvalOptions {
  /** "last" (default): logits (V) of the last token; "all": (T, V). */
  logits?: "last" | "all";
}

/** Runs a model token by token (or chunk by chunk) over one KV cache. */
export class LlamaDecoder {
  readonly cache: KvCache;
  private readonly cos: Float32Array[] = [];
  private readonly sin: Float32Array[] = [];
  private mask: { t: number; p0: number; group: number; data: Float32Array } | undefined;
  /** Buffers the fused graphs write into, reused by every layer of a chunk (not per-layer garbage). */
  private scratch = new Map<string, Float32Array>();

  /**
   * Prompt tokens per layer-graph call (a long prompt runs in chunks of this many), settled at the
   * first eval: asking the layer graphs loads onnxruntime, and loading it before the caller has reserved
   * the KV cache left the malloc heap laid out worse (SmolLM-135M Q8_0 bench child: peak RSS +20–30 MB).
   */
  private chunkSize: number | undefined;

  /** `chunk`: prompt tokens evaluated per pass through the layers (default: promptChunk's 64, 128 or 512). */
  constructor(
    readonly model: LlamaModel,
    options: { chunk?: number } = {},
  ) {
    const c = model.config;
    this.chunkSize = options.chunk;
    this.cache = new KvCache(c.layers, c.kvHeads, c.headDim, c.contextLength);
  }

  /** A reused buffer of at least `n` values, viewed as exactly `n`. */
  private buffer(name: string, n: number): Float32Array {
    let b = this.scratch.get(name);
    if (!b || b.length < n) this.scratch.set(name, (b = new Float32Array(n)));
    return b.subarray(0, n);
  }

  /** Appends `ids` after the cached tokens and returns the requested logits. */
  eval(ids: ArrayLike<number>, options: EvalOptions = {}): Float32Array {
    const v = this.model.config.vocabSize;
    const all = options.logits === "all";
    const out = new Float32Array(all ? ids.length * v : v);
    this.cache.reserve(this.cache.length + ids.length);
    noGrad(() => {
      const size = (this.chunkSize ??= promptChunk(LayerGraphs.for(this.model)));
      for (let s = 0; s < ids.length; s += size) {
        const part = Array.from({ length: Math.min(size, ids.length - s) }, (_, i) => ids[s + i]!);
        const last = s + part.length === ids.length;
        const logits = this.chunk(part, all || last ? (all ? "all" : "last") : "none");
        if (all) out.set(logits!, s * v);
        else if (last) out.set(logits!);
      }
    });
    return out;
  }

  private ropeRow(pos: number): [Float32Array, Float32Array] {
    const inv = this.model.invFreq;
    if (!this.cos[pos]) {
      this.cos[pos] = inv.map((f) => Math.cos(pos * f));
      this.sin[pos] = inv.map((f) => Math.sin(pos * f));
    }
    return [this.cos[pos], this.sin[pos]!];
  }

  /** Rotates every head of x (T, heads·D) in place for positions p0 … p0+T−1. (Also batch-decode.ts, per sequence.) */
  rope(x: Float32Array, t: number, heads: number, p0: number): void {
    const d = this.model.config.headDim;
    const half = d / 2;
    const interleaved = this.model.config.ropeLayout === "interleaved";
    for (let i = 0; i < t; i++) {
      const [cos, sin] = this.ropeRow(p0 + i);
      for (let h = 0; h < heads; h++) {
        const row = (i * heads + h) * d;
        for (let j = 0; j < half; j++) {
          const i0 = interleaved ? row + 2 * j : row + j;
          const i1 = interleaved ? i0 + 1 : i0 + half;
          const x0 = x[i0]!;
          const x1 = x[i1]!;
          x[i0] = x0 * cos[j]! - x1 * sin[j]!;
          x[i1] = x0 * sin[j]! + x1 * cos[j]!;
        }
      }
    }
  }

  private chunk(ids: number[], want: "last" | "all" | "none"): Float32Array | undefined {
    const { dim: c, heads, kvHeads, headDim: d, ffnDim: f, rmsEps, vocabSize } = this.model.config;
    const w = this.model.weights;
    const t = ids.length;
    const p0 = this.cache.length;
    const x = new Float32Array(t * c); // (T, C) residual stream
    const table = w.tokenEmbd;
    for (let i = 0; i < t; i++) {
      const id = ids[i]!;
      if (id < 0 || id >= vocabSize) {
        throw new InfuseError("model.bad_token", `token id ${id} is outside the vocabulary of ${vocabSize}`, {
          kind: "input",
        });
      }
      if (table instanceof QuantTensor) table.dequantizeRows(id, id + 1, x.subarray(i * c, (i + 1) * c));
      else table.readRows(id, id + 1, x.subarray(i * c, (i + 1) * c));
    }
    const h = new Float32Array(t * c); // (T, C)
    const graphs = LayerGraphs.for(this.model);
    if (graphs) {
      this.layersFused(graphs, x, h, t, p0);
      return this.finish(x, h, t, p0, want);
    }
    const q = new Float32Array(t * heads * d); // (T, H·D)
    const k = new Float32Array(t * kvHeads * d); // (T, Hkv·D)
    const v = new Float32Array(t * kvHeads * d);
    const att = new Float32Array(t * heads * d); // (T, H·D)
    const proj = new Float32Array(t * c); // (T, C)
    const gate = new Float32Array(t * f); // (T, F)
    const up = new Float32Array(t * f);
    w.layers.forEach((layer, l) => {
      rmsNormRows(x, layer.attnNorm.data, h, t, c, rmsEps);
      layer.q.forwardRaw(h, t, q);
      layer.k.forwardRaw(h, t, k);
      layer.v.forwardRaw(h, t, v);
      this.rope(q, t, heads, p0);
      this.rope(k, t, kvHeads, p0);
      this.store(l, k, v, t, p0);
      this.attend(l, q, att, t, p0);
      outputAndMlp(layer, { att, x, h, proj, gate, up }, t, rmsEps, () => this.buffer("act", gate.length));
    });
    return this.finish(x, h, t, p0, want);
  }

  /** Every layer through the layer graphs (layer-graph.ts, one sequence over its own cache); the result ends in x. */
  private layersFused(graphs: LayerGraphs, x: Float32Array, h: Float32Array, t: number, p0: number): void {
    const { heads, kvHeads, headDim: d } = this.model.config;
    const group = heads / kvHeads;
    const half = d / 2;
    const cos = this.buffer("cos", t * half);
    const sin = this.buffer("sin", t * half);
    for (let i = 0; i < t; i++) {
      const [c0, s0] = this.ropeRow(p0 + i);
      cos.set(c0, i * half);
      sin.set(s0, i * half);
    }
    const cap = this.cache.capacity;
    // a first chunk attends to no cache: an empty one instead of `cap` masked positions
    const s = p0 === 0 ? 0 : cap;
    const maskCache = this.buffer("maskCache", s).fill(-Infinity); // (1, 1, 1, S): the cached tokens
    maskCache.fill(0, 0, p0);
    const maskNew = this.causalMask(group, t, 0); // (G·T, T): row gi·T + i sees new tokens 0 … i
    const cached = (caches: Float32Array[]) => (s ? caches : caches.map((c) => c.subarray(0, 0)));
    /** Copies layer l's new keys and values into its cache at p0. */
    const store = (l: number, kNew: Float32Array, vNew: Float32Array) => {
      for (let g = 0; g < kvHeads; g++) {
        this.cache.k[l]!.set(kNew.subarray(g * t * d, (g + 1) * t * d), (g * cap + p0) * d);
        this.cache.v[l]!.set(vNew.subarray(g * t * d, (g + 1) * t * d), (g * cap + p0) * d);
      }
    };
    const io = { x, y: h, kCache: cached(this.cache.k), vCache: cached(this.cache.v), store };
    graphs.run({ ...io, maskCache, maskNew, cos, sin }, 1, t, s);
    x.set(h);
  }

  /** Final norm and the logits asked for, after the layers ran over x (T, C); h is scratch. */
  private finish(
    x: Float32Array,
    h: Float32Array,
    t: number,
    p0: number,
    want: "last" | "all" | "none",
  ): Float32Array | undefined {
    const { dim: c, rmsEps, vocabSize } = this.model.config;
    const w = this.model.weights;
    this.cache.length = p0 + t;
    if (want === "none") return undefined;
    const rows = want === "all" ? t : 1;
    const from = want === "all" ? x : x.subarray((t - 1) * c);
    rmsNormRows(from, w.outputNorm.data, h, rows, c, rmsEps);
    const logits = new Float32Array(rows * vocabSize); // (rows, V)
    w.output.forwardRaw(h, rows, logits);
    return logits;
  }

  /** Copies the new keys/values (T, Hkv·D) into the cache at p0. */
  store(l: number, k: Float32Array, v: Float32Array, t: number, p0: number): void {
    const { kvHeads, headDim: d } = this.model.config;
    const cap = this.cache.capacity;
    const kc = this.cache.k[l]!;
    const vc = this.cache.v[l]!;
    for (let i = 0; i < t; i++) {
      for (let g = 0; g < kvHeads; g++) {
        const src = (i * kvHeads + g) * d;
        const dst = (g * cap + p0 + i) * d;
        kc.set(k.subarray(src, src + d), dst);
        vc.set(v.subarray(src, src + d), dst);
      }
    }
  }

  /** The additive causal mask (G·T, S) of a chunk at p0, shared by every layer of the chunk. */
  private causalMask(group: number, t: number, p0: number): Float32Array {
    const s = p0 + t;
    if (this.mask?.t === t && this.mask.p0 === p0 && this.mask.group === group) return this.mask.data;
    const data = new Float32Array(group * t * s);
    for (let r = 0; r < group * t; r++) data.fill(-Infinity, r * s + p0 + (r % t) + 1, (r + 1) * s);
    this.mask = { t, p0, group, data };
    return data;
  }

  /** Attention of a large chunk in one onnxruntime call: q (T, H·D) → out (T, H·D). */
  private attendFused(l: number, q: Float32Array, out: Float32Array, t: number, p0: number): void {
    const { heads, kvHeads, headDim: d } = this.model.config;
    const s = p0 + t;
    const cap = this.cache.capacity;
    const qh = this.buffer("qh", heads * t * d); // (H, T, D) = (Hkv, G·T, D)
    for (let i = 0; i < t; i++) {
      for (let h = 0; h < heads; h++) qh.set(q.subarray((i * heads + h) * d, (i * heads + h + 1) * d), (h * t + i) * d);
    }
    const keys = (c: Float32Array): Float32Array => {
      if (cap === s) return c.subarray(0, kvHeads * s * d);
      const packed = new Float32Array(kvHeads * s * d); // (Hkv, S, D)
      for (let g = 0; g < kvHeads; g++) packed.set(c.subarray(g * cap * d, (g * cap + s) * d), g * s * d);
      return packed;
    };
    const y = fusedAttention(
      qh,
      keys(this.cache.k[l]!),
      keys(this.cache.v[l]!),
      this.causalMask(heads / kvHeads, t, p0),
      {
        kvHeads,
        rows: (heads / kvHeads) * t,
        keys: s,
        headDim: d,
        scale: this.model.attnScale,
      },
      this.buffer("y", heads * t * d),
    ); // (H, T, D)
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < t; i++) out.set(y.subarray((h * t + i) * d, (h * t + i + 1) * d), (i * heads + h) * d);
    }
  }

  /** Causal grouped-query attention of q (T, H·D) over the cache into out (T, H·D). */
  attend(l: number, q: Float32Array, out: Float32Array, t: number, p0: number): void {
    const { heads, kvHeads, headDim: d } = this.model.config;
    const group = heads / kvHeads;
    const s = p0 + t;
    if (heads * t * s >= FUSED_MIN_SCORES && fusedAvailable()) return this.attendFused(l, q, out, t, p0);
    const cap = this.cache.capacity;
    const scale = this.model.attnScale;
    const qg = new Float32Array(group * t * d); // (G·T, D): the group's heads stacked
    const scores = new Float32Array(group * t * s); // (G·T, S)
    const og = new Float32Array(group * t * d); // (G·T, D)
    for (let g = 0; g < kvHeads; g++) {
      for (let gi = 0; gi < group; gi++) {
        const hq = g * group + gi;
        for (let i = 0; i < t; i++)
          qg.set(q.subarray((i * heads + hq) * d, (i * heads + hq + 1) * d), (gi * t + i) * d);
      }
      const kg = this.cache.k[l]!.subarray(g * cap * d, (g * cap + s) * d); // (S, D)
      const vg = this.cache.v[l]!.subarray(g * cap * d, (g * cap + s) * d); // (S, D)
      const m = group * t;
      matmulKernel(qg, kg, scores, { batch: 1, m, k: d, n: s, transA: false, transB: true, bBatched: true });
      for (let r = 0; r < m; r++) {
        const visible = p0 + (r % t) + 1; // keys 0 … p0+i
        const row = r * s;
        let max = -Infinity;
        for (let j = 0; j < visible; j++) max = Math.max(max, scores[row + j]! * scale);
        let sum = 0;
        for (let j = 0; j < visible; j++) {
          const e = Math.exp(scores[row + j]! * scale - max);
          scores[row + j] = e;
          sum += e;
        }
        const inv = 1 / sum;
        for (let j = 0; j < visible; j++) scores[row + j]! *= inv;
        scores.fill(0, row + visible, row + s);
      }
      matmulKernel(scores, vg, og, { batch: 1, m, k: s, n: d, transA: false, transB: false, bBatched: true });
      for (let gi = 0; gi < group; gi++) {
        const hq = g * group + gi;
        for (let i = 0; i < t; i++) out.set(og.subarray((gi * t + i) * d, (gi * t + i + 1) * d), (i * heads + hq) * d);
      }
    }
  }
}

/**
 * The per-op path's second half of a decoder layer on `rows` rows, after attention: x += o(att), then
 * x += down(silu(gate(n))·up(n)) with n = RMSNorm(x) in h. proj (rows, C), gate and up (rows, F) are scratch.
 */
export function outputAndMlp(
  layer: LlamaLayer,
  buf: {
    att: Float32Array;
    x: Float32Array;
    h: Float32Array;
    proj: Float32Array;
    gate: Float32Array;
    up: Float32Array;
  },
  rows: number,
  eps: number,
  act: () => Float32Array,
): void {
  const { att, x, h, proj, gate, up } = buf;
  layer.o.forwardRaw(att, rows, proj);
  for (let i = 0; i < x.length; i++) x[i]! += proj[i]!;
  rmsNormRows(x, layer.ffnNorm.data, h, rows, x.length / rows, eps);
  layer.gate.forwardRaw(h, rows, gate);
  layer.up.forwardRaw(h, rows, up);
  layer.down.forwardRaw(swiglu(gate, up, act), rows, proj);
  for (let i = 0; i < x.length; i++) x[i]! += proj[i]!;
}

/** silu(gate)·up: in place in TypeScript for small chunks, one onnxruntime call (into `out`) for large ones. */
export function swiglu(gate: Float32Array, up: Float32Array, out: () => Float32Array): Float32Array {
  if (gate.length >= FUSED_MIN_FFN && fusedAvailable()) return fusedSwiglu(gate, up, out());
  for (let i = 0; i < gate.length; i++) {
    const g = gate[i]!;
    gate[i] = (g / (1 + Math.exp(-g))) * up[i]!;
  }
  return gate;
}

/** out[r] = x[r] / sqrt(mean(x[r]²) + eps) · w for `rows` rows of length c. */
export function rmsNormRows(
  x: Float32Array,
  w: Float32Array,
  out: Float32Array,
  rows: number,
  c: number,
  eps: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * c;
    let ss = 0;
    for (let j = 0; j < c; j++) ss += x[o + j]! * x[o + j]!;
    const inv = 1 / Math.sqrt(ss / c + eps);
    for (let j = 0; j < c; j++) out[o + j] = x[o + j]! * inv * w[j]!;
  }
}
