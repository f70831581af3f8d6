// Decode-step attention of B sequences in one onnxruntime call per layer (batch-decode.ts): the running
// sequences' keys and values are kept packed side by side, (B, Hkv, S, D) per layer, each padded to S
// and masked past its own length, so one call attends every sequence over its own cache only.
// Without it a step made 6 small native calls per sequence and layer. The batched layer graphs
// (layer-graph.ts) read the same packed caches (view, write). Leaves out prompt chunks (decode.ts).
// Shapes: B sequences, Hkv kv heads, G = H/Hkv, S packed positions, D head size.
import { runOnnxModel } from "../../tensor/index.js";
import { encodeOnnxModel } from "../../tensor/kernels/onnx-model.js";
import type { LlamaDecoder } from "./decode.js";

/** Positions kept free past the longest sequence when packing, so most steps append without repacking. */
const HEADROOM = 64;

function batchAttentionGraph(): Uint8Array {
  return encodeOnnxModel({
    opset: 17,
    inputs: [
      { name: "Q", type: "float", dims: ["b", "h", "g", "d"] },
      { name: "K", type: "float", dims: ["b", "h", "s", "d"] },
      { name: "V", type: "float", dims: ["b", "h", "s", "d"] },
      { name: "M", type: "float", dims: ["b", 1, 1, "s"] },
      { name: "scale", type: "float", dims: [1] },
    ],
    outputs: [{ name: "Y", type: "float", dims: ["b", "h", "g", "d"] }],
    nodes: [
      { op: "Transpose", inputs: ["K"], outputs: ["Kt"], attributes: [{ name: "perm", ints: [0, 1, 3, 2] }] },
      { op: "MatMul", inputs: ["Q", "Kt"], outputs: ["S0"] }, // (B, Hkv, G, S)
      { op: "Mul", inputs: ["S0", "scale"], outputs: ["S1"] },
      { op: "Add", inputs: ["S1", "M"], outputs: ["S2"] },
      { op: "Softmax", inputs: ["S2"], outputs: ["P"], attributes: [{ name: "axis", int: -1 }] },
      { op: "MatMul", inputs: ["P", "V"], outputs: ["Y"] }, // (B, Hkv, G, D)
    ],
  });
}

/** The packed keys and values of the sequences a BatchDecoder steps, rebuilt when the batch changes. */
export class PackedKv {
  private decs: readonly LlamaDecoder[] = [];
  /** Each sequence's length as packed (its cache must still hold exactly this many to append). */
  private lengths: number[] = [];
  private capacity = 0;
  private k: Float32Array[] = [];
  private v: Float32Array[] = [];
  private mask = new Float32Array(0); // (B, S): 0 where a sequence may look, −∞ past its length

  constructor(
    private readonly layers: number,
    private readonly kvHeads: number,
    private readonly headDim: number,
  ) {}

  /**
   * Makes the packed copy hold `decs` (in this order) with room for one more token each. `self`: the
   * mask lets the new token see its own position (attend() writes it there first); false for the
   * batched layer graphs, which attend to the new token apart and write it afterwards (write()).
   */
  prepare(decs: readonly LlamaDecoder[], self = true): void {
    const same =
      decs.length === this.decs.length &&
      decs.every((d, i) => d === this.decs[i] && d.cache.length === this.lengths[i] && d.cache.length < this.capacity);
    if (!same) this.pack(decs);
    if (self) decs.forEach((d, i) => (this.mask[i * this.capacity + d.cache.length] = 0));
  }

  /** Layer l's packed keys and values (B, Hkv, S, D) and mask (B, S), S = capacity. */
  view(l: number): { k: Float32Array; v: Float32Array; mask: Float32Array; capacity: number } {
    const { kvHeads: hkv, headDim: d, capacity: s } = this;
    const n = this.decs.length * hkv * s * d;
    return {
      k: this.k[l]!.subarray(0, n),
      v: this.v[l]!.subarray(0, n),
      mask: this.mask.subarray(0, this.decs.length * s),
      capacity: s,
    };
  }

  /**
   * Writes the sequences' new keys and values (B, Hkv·D) of layer l at their positions; `own`: into each
   * sequence's own cache too (as LlamaDecoder.store, in plain loops: 2 subarrays per head and sequence
   * were ~5% of a batch step).
   */
  write(l: number, k: Float32Array, v: Float32Array, own = false): void {
    const { kvHeads: hkv, headDim: d, capacity: s } = this;
    const kl = this.k[l]!;
    const vl = this.v[l]!;
    for (let i = 0; i < this.decs.length; i++) {
      const p = this.lengths[i]!;
      const cache = this.decs[i]!.cache;
      const [kc, vc, cap] = [cache.k[l]!, cache.v[l]!, cache.capacity];
      for (let g = 0; g < hkv; g++) {
        const src = (i * hkv + g) * d;
        const dst = ((i * hkv + g) * s + p) * d;
        const mine = (g * cap + p) * d;
        for (let j = 0; j < d; j++) {
          kl[dst + j] = k[src + j]!;
          vl[dst + j] = v[src + j]!;
        }
        if (!own) continue;
        for (let j = 0; j < d; j++) {
          kc[mine + j] = k[src + j]!;
          vc[mine + j] = v[src + j]!;
        }
      }
    }
  }

  private pack(decs: readonly LlamaDecoder[]): void {
    const { layers, kvHeads: hkv, headDim: d } = this;
    const b = decs.length;
    const longest = Math.max(...decs.map((x) => x.cache.length));
    this.capacity = longest + HEADROOM;
    const s = this.capacity;
    const size = b * hkv * s * d;
    for (let l = 0; l < layers; l++) {
      let kl = this.k[l];
      let vl = this.v[l];
      if (!kl || !vl || kl.length < size) {
        this.k[l] = kl = new Float32Array(size);
        this.v[l] = vl = new Float32Array(size);
      }
      for (const [i, dec] of decs.entries()) {
        const cap = dec.cache.capacity;
        const n = dec.cache.length;
        for (let g = 0; g < hkv; g++) {
          const src = g * cap * d;
          const dst = (i * hkv + g) * s * d;
          kl.set(dec.cache.k[l]!.subarray(src, src + n * d), dst);
          vl.set(dec.cache.v[l]!.subarray(src, src + n * d), dst);
        }
      }
    }
    if (this.mask.length < b * s) this.mask = new Float32Array(b * s);
    this.mask.fill(-Infinity, 0, b * s);
    decs.forEach((dec, i) => this.mask.fill(0, i * s, i * s + dec.cache.length));
    this.decs = [...decs];
    this.lengths = decs.map((x) => x.cache.length);
  }

  /**
   * Appends the sequences' new keys and values (B, Hkv·D) of layer l at their positions and writes the
   * attention of q (B, H·D) = (B, Hkv, G, D) into out, same layout.
   */
  attend(l: number, q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, scale: number): void {
    const { kvHeads: hkv, headDim: d, capacity: s } = this;
    const b = this.decs.length;
    const kl = this.k[l]!;
    const vl = this.v[l]!;
    this.write(l, k, v);
    const group = q.length / (b * hkv * d);
    runOnnxModel(
      "llama-batch-attention",
      batchAttentionGraph,
      {
        Q: { data: q, dims: [b, hkv, group, d] },
        K: { data: kl.subarray(0, b * hkv * s * d), dims: [b, hkv, s, d] },
        V: { data: vl.subarray(0, b * hkv * s * d), dims: [b, hkv, s, d] },
        M: { data: this.mask.subarray(0, b * s), dims: [b, 1, 1, s] },
        scale: { data: Float32Array.of(scale), dims: [1] },
      },
      { Y: { data: out, dims: [b, hkv, group, d] } },
    );
  }

  /** After a step: every sequence is one token longer. */
  advance(): void {
    this.lengths.forEach((n, i) => (this.mask[i * this.capacity + n] = 0)); // the new token, now cached
    this.lengths = this.lengths.map((n) => n + 1);
  }

  /** Forgets the packed copy (its memory too). */
  clear(): void {
    this.decs = [];
    this.lengths = [];
    this.capacity = 0;
    this.k = [];
    this.v = [];
  }
}
