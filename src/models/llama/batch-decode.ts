// Batched decoding: the next token of B sequences in one step, each sequence a LlamaDecoder (its own KV
// cache, its own position). The B new tokens form one (B, C) matrix, so every weight is read once per
// step for all of them. Where layer-graph.ts's graphs apply, each layer is one onnxruntime call over all
// rows against the sequences' packed caches (batch-attention.ts); prompts are evaluated by each
// sequence's LlamaDecoder through the same graphs, so a batch-serving process holds one set of weights.
// Elsewhere every linear runs as Linear.forwardRaw over (B, C), rope and cache writes per sequence
// through the decoder's own code, attention in one call per layer (PackedKv.attend; per sequence through
// the decoder without onnxruntime). Leaves out sampling.
// Shapes: B sequences, T prompt tokens, C hidden, H heads, Hkv kv heads, D head size, F ffn, V vocab.
import { InfuseError } from "../../core/errors.js";
import { noGrad, QuantTensor } from "../../tensor/index.js";
import { PackedKv } from "./batch-attention.js";
import { LayerGraphs } from "./layer-graph.js";
import { LlamaDecoder, outputAndMlp, rmsNormRows } from "./decode.js";
import { fusedAvailable } from "./fused.js";
import type { LlamaModel } from "./model.js";

/** KV-cache bytes one sequence holds per token: K and V of every layer, f32. */
export function kvBytesPerToken(model: LlamaModel): number {
  const { layers, kvHeads, headDim } = model.config;
  return layers * 2 * kvHeads * headDim * 4;
}

/** Steps several LlamaDecoders of one model together; slots are reused when a sequence leaves. */
export class BatchDecoder {
  private readonly free: LlamaDecoder[] = [];
  private readonly scratch = new Map<string, Float32Array>();
  private readonly packed: PackedKv | undefined;
  private readonly chunk: number | undefined;

  /**
   * `packedAttention` false: attention per sequence through LlamaDecoder (the path without onnxruntime).
   * `promptChunk`: prompt tokens per layer-graph call of each sequence's decoder (LlamaDecoder's default).
   */
  constructor(
    readonly model: LlamaModel,
    options: { packedAttention?: boolean; promptChunk?: number } = {},
  ) {
    const { layers, kvHeads, headDim } = model.config;
    this.chunk = options.promptChunk;
    if (options.packedAttention ?? fusedAvailable()) this.packed = new PackedKv(layers, kvHeads, headDim);
  }

  /**
   * A decoder for a new sequence (a freed slot when there is one, its cache emptied), with room for
   * `tokens` tokens reserved now so decoding never grows the cache.
   */
  open(tokens: number): LlamaDecoder {
    const dec = this.free.pop() ?? new LlamaDecoder(this.model, this.chunk ? { chunk: this.chunk } : {});
    dec.cache.truncate(0);
    dec.cache.reserve(Math.min(tokens, this.model.config.contextLength));
    return dec;
  }

  /** Gives a sequence's slot back for the next one to reuse (keeps its cache's memory). */
  close(dec: LlamaDecoder): void {
    if (dec.model !== this.model) return;
    dec.cache.truncate(0);
    this.free.push(dec);
  }

  /** Frees the memory of the slots no sequence holds. */
  trim(): void {
    this.free.length = 0;
    this.packed?.clear();
  }

  /** A reused buffer of at least `n` values, viewed as exactly `n`. */
  private buffer(name: string, n: number): Float32Array {
    let b = this.scratch.get(name);
    if (!b || b.length < n) this.scratch.set(name, (b = new Float32Array(n)));
    return b.subarray(0, n);
  }

  /**
   * Appends tokens[i] to sequence decs[i] for every i and returns the logits (B, V), row i for
   * sequence i. The returned array is reused by the next step: read (or copy) it before stepping again.
   */
  step(decs: readonly LlamaDecoder[], tokens: readonly number[]): Float32Array {
    const b = decs.length;
    const { dim: c, rmsEps, vocabSize, contextLength } = this.model.config;
    if (tokens.length !== b) {
      throw new InfuseError(
        "batch.bad_step",
        `a batch step needs one token per sequence (${b} sequences, ${tokens.length} tokens)`,
        {
          kind: "usage",
          hint: "give BatchDecoder.step each sequence (a decoder from open()) once, with one token each",
        },
      );
    }
    if (new Set(decs).size !== b) {
      throw new InfuseError("batch.bad_step", "a sequence appears twice in one batch step", {
        kind: "usage",
        hint: "give BatchDecoder.step each sequence (a decoder from open()) once, with one token each",
      });
    }
    const w = this.model.weights;
    const x = this.buffer("x", b * c); // (B, C) residual stream
    for (let i = 0; i < b; i++) {
      const dec = decs[i]!;
      const id = tokens[i]!;
      if (dec.model !== this.model) {
        throw new InfuseError("batch.bad_step", "every sequence of a batch must decode the batch's model", {
          kind: "usage",
          hint: "open each sequence with this BatchDecoder's open()",
        });
      }
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new InfuseError("model.bad_token", `token id ${id} is outside the vocabulary of ${vocabSize}`, {
          kind: "input",
        });
      }
      if (dec.cache.length + 1 > contextLength) dec.cache.reserve(dec.cache.length + 1); // throws context_full
    }
    for (let i = 0; i < b; i++) {
      decs[i]!.cache.reserve(decs[i]!.cache.length + 1);
      const id = tokens[i]!;
      const row = x.subarray(i * c, (i + 1) * c);
      if (w.tokenEmbd instanceof QuantTensor) w.tokenEmbd.dequantizeRows(id, id + 1, row);
      else w.tokenEmbd.readRows(id, id + 1, row);
    }
    const h = this.buffer("h", b * c); // (B, C)
    const logits = this.buffer("logits", b * vocabSize); // (B, V)
    const graphs = this.packed && LayerGraphs.for(this.model);
    noGrad(() => {
      const y = graphs ? this.layersFused(graphs, decs, x, h) : this.layersPerOp(decs, x, h);
      rmsNormRows(y, w.outputNorm.data, h, b, c, rmsEps);
      w.output.forwardRaw(h, b, logits);
    });
    for (const dec of decs) dec.cache.length += 1;
    this.packed?.advance();
    return logits;
  }

  /** RoPE's cos and sin (rows, D/2) of row i at position positions[i] (as LlamaDecoder's, rounded to f32). */
  private ropeRows(positions: readonly number[]): { cos: Float32Array; sin: Float32Array } {
    const inv = this.model.invFreq;
    const half = inv.length;
    const cos = this.buffer("cos", positions.length * half);
    const sin = this.buffer("sin", positions.length * half);
    positions.forEach((p, i) => {
      for (let j = 0; j < half; j++) {
        cos[i * half + j] = Math.cos(p * inv[j]!);
        sin[i * half + j] = Math.sin(p * inv[j]!);
      }
    });
    return { cos, sin };
  }

  /** Every layer through the layer graphs over the packed caches; returns the buffer holding the result. */
  private layersFused(graphs: LayerGraphs, decs: readonly LlamaDecoder[], x: Float32Array, h: Float32Array) {
    const packed = this.packed!;
    const layers = this.model.config.layers;
    packed.prepare(decs, false);
    const views = Array.from({ length: layers }, (_, l) => packed.view(l));
    const { mask, capacity } = views[0]!; // one mask for every layer
    graphs.run(
      {
        x,
        y: h,
        kCache: views.map((v) => v.k),
        vCache: views.map((v) => v.v),
        maskCache: mask,
        maskNew: this.buffer("zero", 1),
        ...this.ropeRows(decs.map((dec) => dec.cache.length)),
        store: (l, kNew, vNew) => packed.write(l, kNew, vNew, true), // and into each sequence's own cache
      },
      decs.length,
      1,
      capacity,
    );
    return h;
  }

  /** Every linear through Linear.forwardRaw over (B, C), rope and cache writes per sequence; result in x. */
  private layersPerOp(decs: readonly LlamaDecoder[], x: Float32Array, h: Float32Array): Float32Array {
    const b = decs.length;
    const { dim: c, heads, kvHeads, headDim: d, ffnDim: f, rmsEps } = this.model.config;
    const q = this.buffer("q", b * heads * d); // (B, H·D)
    const k = this.buffer("k", b * kvHeads * d); // (B, Hkv·D)
    const v = this.buffer("v", b * kvHeads * d);
    const att = this.buffer("att", b * heads * d); // (B, H·D)
    const proj = this.buffer("proj", b * c); // (B, C)
    const gate = this.buffer("gate", b * f); // (B, F)
    const up = this.buffer("up", b * f);
    const packed = this.packed;
    packed?.prepare(decs);
    this.model.weights.layers.forEach((layer, l) => {
      rmsNormRows(x, layer.attnNorm.data, h, b, c, rmsEps);
      layer.q.forwardRaw(h, b, q);
      layer.k.forwardRaw(h, b, k);
      layer.v.forwardRaw(h, b, v);
      for (let i = 0; i < b; i++) {
        const dec = decs[i]!;
        const p = dec.cache.length; // this sequence's position
        const qi = q.subarray(i * heads * d, (i + 1) * heads * d); // (1, H·D)
        const ki = k.subarray(i * kvHeads * d, (i + 1) * kvHeads * d); // (1, Hkv·D)
        const vi = v.subarray(i * kvHeads * d, (i + 1) * kvHeads * d);
        dec.rope(qi, 1, heads, p);
        dec.rope(ki, 1, kvHeads, p);
        dec.store(l, ki, vi, 1, p);
        if (!packed) dec.attend(l, qi, att.subarray(i * heads * d, (i + 1) * heads * d), 1, p);
      }
      packed?.attend(l, q, k, v, att, this.model.attnScale);
      outputAndMlp(layer, { att, x, h, proj, gate, up }, b, rmsEps, () => this.buffer("act", gate.length));
    });
    return x;
  }
}
