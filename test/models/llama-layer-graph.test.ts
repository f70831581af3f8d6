// The decoder's one-graph-per-layer path (layer-graph.ts) against its per-op path on the same weights:
// F32 from a GGUF (matrices held by onnxruntime, read from the file, stacked where they lie together
// there), F32 without a file (fed weights, stacked q|k|v and gate|up or one by one, both RoPE layouts;
// single-token steps as every layer in one stacked graph) and Q8_0/Q4_0 (MatMulNBits initializers),
// over a prompt that spans two chunks' worth of positions and single-token steps after it; LoRA
// adapters in the graphs (held, fed and quantized weights; trained in place, attached late, detached);
// Q4_K in its own 4-bit blocks (the head as 8-bit ones); F16 as 8-bit blocks.
import { appendFileSync, copyFileSync, mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { GgmlType } from "../../src/formats/gguf/index.js";
import { LlamaDecoder } from "../../src/models/llama/decode.js";
import { LayerGraphs, setStageBytes } from "../../src/models/llama/layer-graph.js";
import { loadLlama, loadLlamaGguf } from "../../src/models/llama/load.js";
import { LlamaModel } from "../../src/models/llama/model.js";
import { stackedRows } from "../../src/models/llama/weights.js";
import { Linear } from "../../src/models/linear.js";
import { attachLora, loadLora, writeLoraFiles, type LoraSet } from "../../src/models/lora/index.js";
import { Tensor } from "../../src/tensor/index.js";
import { heldF32Kernel } from "../../src/tensor/kernels/ort.js";
import { rewriteGguf } from "./gguf-rewrite.js";
import { writeTinyHfModel, writeTinyLlamaF32Gguf } from "./tiny-decoders.js";

const tmp = mkdtempSync(path.join(tmpdir(), "infuse-layer-graph-"));
let f32Path: string;
beforeAll(async () => {
  f32Path = await writeTinyLlamaF32Gguf(tmp);
});
afterEach(() => {
  delete process.env["INFUSE_LAYER_GRAPHS"];
});

/** Logits of a 40-token prompt, then of 6 single tokens, with the layer graphs on or off. */
function run(model: LlamaModel, graphs: boolean): Float32Array[] {
  process.env["INFUSE_LAYER_GRAPHS"] = graphs ? "1" : "0";
  const dec = new LlamaDecoder(model);
  const prompt = Array.from({ length: 40 }, (_, i) => 1 + ((i * 37) % 500));
  const out = [dec.eval(prompt, { logits: "all" })];
  for (let i = 0; i < 6; i++) out.push(dec.eval([3 + i]));
  return out;
}

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((x, i) => x.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i]![j]!)))));
  return m;
}

describe("layer graphs", () => {
  const linears = (model: LlamaModel): Tensor[] =>
    model.weights.layers.flatMap((l) => [l.q, l.k, l.v, l.o, l.gate, l.up, l.down].map((lin) => lin.weight as Tensor));

  it("F32 GGUF: onnxruntime holds the matrices, read from the file; the per-op path's logits to f32 rounding", async () => {
    const { model } = await loadLlamaGguf(f32Path);
    const graphs = LayerGraphs.for(model)!;
    expect(graphs.holdsWeights).toBe(true);
    // the tiny model's layers fit one session, for prompt chunks and single-token steps alike
    expect([graphs.plan(40).length, graphs.plan(1).length]).toEqual([1, 1]);
    const withGraphs = run(model, true);
    // the loader's copies went once onnxruntime held its own, the output head's too; the embedding
    // table's rows come from the file for each lookup
    const head = model.weights.output.weight as Tensor;
    const table = model.weights.tokenEmbd as Tensor;
    expect(heldF32Kernel(head)).toBeDefined();
    expect([...linears(model), head, table].every((w) => !w.resident)).toBe(true);
    // a model that never held them (per-op path, fed head) gives the same logits
    const fresh = (await loadLlamaGguf(f32Path)).model;
    expect(maxDiff(withGraphs, run(fresh, false))).toBeLessThan(1e-4);
    // and the per-op path of this one reads them back from the file, exactly as loaded
    expect(maxDiff(withGraphs, run(model, false))).toBeLessThan(1e-4);
    expect(linears(model).every((w, i) => w.resident && maxDiff([w.data], [linears(fresh)[i]!.data]) === 0)).toBe(true);
    // disposing the graphs gives the head back to the fed kernel, its values read from the file
    graphs.dispose();
    expect(heldF32Kernel(head)).toBeUndefined();
    expect(maxDiff(run(model, false), withGraphs)).toBeLessThan(1e-4);
  });

  it("F32 GGUF in llama.cpp's tensor order (q, k, v apart): one initializer per linear, the same logits", async () => {
    const file = await rewriteGguf(f32Path, path.join(tmp, "sorted.gguf"), { sortByName: true });
    const sorted = (await loadLlamaGguf(file)).model;
    const [layer] = sorted.weights.layers;
    expect(stackedRows([layer!.q.weight, layer!.k.weight, layer!.v.weight])).not.toBeNull(); // stacked in memory only
    expect(LayerGraphs.for(sorted)!.holdsWeights).toBe(true);
    const want = run((await loadLlamaGguf(f32Path)).model, true);
    expect(maxDiff(run(sorted, true), want)).toBeLessThan(1e-5);
  });

  it("F32 GGUF through a symlink from another folder: onnxruntime reads the real file", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "infuse-layer-graph-link-"));
    const link = path.join(dir, "linked.gguf");
    symlinkSync(f32Path, link);
    const { model } = await loadLlamaGguf(link);
    expect(LayerGraphs.for(model)!.holdsWeights).toBe(true);
    expect(maxDiff(run(model, true), run((await loadLlamaGguf(f32Path)).model, true))).toBe(0);
  });

  it("F32 GGUF changed after loading: model.file_changed when onnxruntime would read it, not other weights", async () => {
    const file = path.join(tmp, "changing.gguf");
    copyFileSync(f32Path, file);
    const { model } = await loadLlamaGguf(file);
    appendFileSync(file, new Uint8Array(64));
    const dec = new LlamaDecoder(model);
    expect(() => dec.eval([1, 2, 3])).toThrow(expect.objectContaining({ code: "model.file_changed" }));
  });

  it("F32 weights with no file to read them from are fed: one by one where they do not lie stacked", async () => {
    const { model: loaded } = await loadLlamaGguf(f32Path);
    const apart = (lin: Linear) =>
      new Linear(lin.name, new Tensor((lin.weight as Tensor).data.slice(), lin.weight.shape));
    const layers = loaded.weights.layers.map((l) => ({ ...l, q: apart(l.q), k: apart(l.k), gate: apart(l.gate) }));
    const model = new LlamaModel(loaded.config, { ...loaded.weights, layers });
    expect(stackedRows([layers[0]!.q.weight, layers[0]!.k.weight, layers[0]!.v.weight])).toBeNull();
    const graphs = LayerGraphs.for(model)!;
    expect(graphs.holdsWeights).toBe(false);
    // fed: the prompt runs one graph per layer, each single-token step every layer as one stacked graph
    expect([graphs.plan(40).length, graphs.plan(1).length]).toEqual([model.config.layers, 1]);
    expect(maxDiff(run(model, true), run(loaded, true))).toBeLessThan(1e-4);
  });

  it("F32, half RoPE and grouped-query attention (HF folder)", async () => {
    const dir = await writeTinyHfModel(path.join(tmp, "mistral"), { modelType: "mistral", heads: 8, kvHeads: 2 });
    const { model } = await loadLlama(dir);
    expect(model.config.ropeLayout).toBe("half");
    expect(LayerGraphs.for(model)).not.toBeNull();
    expect(maxDiff(run(model, true), run(model, false))).toBeLessThan(1e-4);
  });

  // Both paths quantize activations to int8 per block for these rows (≤ 128), in different kernels' order,
  // from norms rounded differently (onnxruntime's SimplifiedLayerNormalization, our rmsNormRows): an
  // activation on the other side of an int8 rounding step moves the logits by a step's worth (Q8_0:
  // 0.025 on logits up to ~2.5; both paths stay as far from the f32 model's logits, mean 0.008). The
  // bound is 2% of the largest logit.
  for (const [label, type] of [
    ["Q8_0", GgmlType.Q8_0],
    ["Q4_0", GgmlType.Q4_0],
  ] as const) {
    it(`${label}: MatMulNBits initializers, the per-op int8 path's logits`, async () => {
      const file = await rewriteGguf(f32Path, path.join(tmp, `${label}.gguf`), { matrixType: type });
      const on = (await loadLlamaGguf(file)).model;
      const off = (await loadLlamaGguf(file)).model;
      // on every CPU: prompt chunks of 64 rows keep Q8_0 on its int8 kernel with or without int8 dot products
      expect(LayerGraphs.for(on)).not.toBeNull();
      const want = run(off, false);
      const largest = Math.max(...want.map((x) => x.reduce((m, v) => Math.max(m, Math.abs(v)), 0)));
      expect(maxDiff(run(on, true), want)).toBeLessThan(0.02 * largest);
    });
  }

  it("Q4_0: layers in one session, one each or two each, the same logits", async () => {
    const file = await rewriteGguf(f32Path, path.join(tmp, "Q4_0-stages.gguf"), { matrixType: GgmlType.Q4_0 });
    const together = (await loadLlamaGguf(file)).model;
    expect(LayerGraphs.for(together)!.plan(1).length).toBe(1); // the tiny model's layers fit one session
    const want = run(together, true);
    const before = setStageBytes(1, 1);
    try {
      const apart = (await loadLlamaGguf(file)).model;
      expect(apart.config.layers).toBeGreaterThan(1);
      expect(LayerGraphs.for(apart)!.plan(1).length).toBe(apart.config.layers);
      expect(maxDiff(run(apart, true), want)).toBeLessThan(1e-6);
      // layers that each outgrow the limit still go two to a session (a 1B model's 28 MB layers)
      setStageBytes(1);
      const pairs = (await loadLlamaGguf(file)).model;
      expect(LayerGraphs.for(pairs)!.plan(1).length).toBe(Math.ceil(pairs.config.layers / 2));
      expect(maxDiff(run(pairs, true), want)).toBeLessThan(1e-6);
    } finally {
      setStageBytes(before.bytes, before.minLayers);
    }
  });

  describe("with LoRA adapters (unmerged, as engine:MODEL+ADAPTER serves them)", () => {
    /** LoRA on q, v, gate and down (rank 4), A as seeded and B set to values of its own index. */
    const adapt = (model: LlamaModel): LoraSet => {
      const set = attachLora(model, {
        r: 4,
        alpha: 8,
        targets: ["q_proj", "v_proj", "gate_proj", "down_proj"],
        seed: 3,
      });
      set.setTraining(false);
      for (const ad of set.adapters.values()) ad.b.data.forEach((_, i, b) => (b[i] = 0.05 * Math.sin(i + 1)));
      return set;
    };

    it("F32 GGUF (held): the adapters' products in the graph, the per-op path's logits; B read as it is now", async () => {
      const base = run((await loadLlamaGguf(f32Path)).model, false);
      const on = (await loadLlamaGguf(f32Path)).model;
      const off = (await loadLlamaGguf(f32Path)).model;
      const [setOn, setOff] = [adapt(on), adapt(off)];
      const got = run(on, true);
      expect(LayerGraphs.for(on)!.holdsWeights).toBe(true);
      const want = run(off, false);
      expect(maxDiff(want, base)).toBeGreaterThan(0.01); // the adapters change the logits
      expect(maxDiff(got, want)).toBeLessThan(1e-4);
      // trained on in place between two passes: the graph reads B as it is now
      for (const set of [setOn, setOff])
        for (const ad of set.adapters.values()) ad.b.data.forEach((v, i, b) => (b[i] = -2 * v));
      expect(maxDiff(run(on, true), run(off, false))).toBeLessThan(1e-4);
      // detached: the sessions are built again without them, the base model's logits
      setOn.detach();
      expect(maxDiff(run(on, true), base)).toBeLessThan(1e-4);
    });

    it("frozen, as loadLora serves them: held by the sessions; another adapter gets sessions of its own", async () => {
      const files = path.join(tmp, "lora-files");
      const source = (await loadLlamaGguf(f32Path)).model;
      await writeLoraFiles(files, adapt(source), f32Path);
      const on = (await loadLlamaGguf(f32Path)).model;
      const off = (await loadLlamaGguf(f32Path)).model;
      const set = await loadLora(on, files);
      await loadLora(off, files);
      expect([...set.adapters.values()].every((ad) => !ad.a.requiresGrad && !ad.b.requiresGrad)).toBe(true);
      const got = run(on, true);
      expect(LayerGraphs.for(on)!.holdsWeights).toBe(true);
      // held: the loader's copies went, as the base weights' did
      expect([...set.adapters.values()].every((ad) => !ad.a.resident && !ad.b.resident)).toBe(true);
      expect(maxDiff(got, run(off, false))).toBeLessThan(1e-4);
      // the per-op path reads them back from the adapter's file, exactly as loaded
      expect(maxDiff(run(on, false), got)).toBeLessThan(1e-4);
      const offAd = [...(await loadLora((await loadLlamaGguf(f32Path)).model, files)).adapters.values()];
      [...set.adapters.values()].forEach((ad, i) => {
        expect(ad.a.resident && ad.b.resident).toBe(true);
        expect(maxDiff([ad.a.data, ad.b.data], [offAd[i]!.a.data, offAd[i]!.b.data])).toBe(0);
      });
      // a change in place is not seen (as the base weights' are not)
      const b = set.adapters.values().next().value!.b.data;
      const saved = b.slice();
      b.fill(0.3);
      expect(maxDiff(run(on, true), got)).toBe(0);
      b.set(saved);
      // the same files attached again (after a detach) are new matrices: the sessions are built for them
      set.detach();
      const again = await loadLora(on, files);
      for (const ad of again.adapters.values()) ad.b.data.forEach((v, i, x) => (x[i] = 0.5 * v));
      const halfOff = (await loadLlamaGguf(f32Path)).model;
      for (const ad of (await loadLora(halfOff, files)).adapters.values())
        ad.b.data.forEach((v, i, x) => (x[i] = 0.5 * v));
      expect(maxDiff(run(on, true), run(halfOff, false))).toBeLessThan(1e-4);
    });

    it("an adapter file changed after loading: model.file_changed when its values are read again", async () => {
      const files = path.join(tmp, "lora-changed");
      await writeLoraFiles(files, adapt((await loadLlamaGguf(f32Path)).model), f32Path);
      const model = (await loadLlamaGguf(f32Path)).model;
      const set = await loadLora(model, files);
      run(model, true); // held, and the loader's copies dropped
      appendFileSync(path.join(files, "adapter_model.safetensors"), Buffer.alloc(8));
      const ad = set.adapters.values().next().value!;
      expect(() => ad.a.data).toThrow(expect.objectContaining({ code: "model.file_changed" }));
    });

    it("attached after the sessions were built: built again with them", async () => {
      const on = (await loadLlamaGguf(f32Path)).model;
      const off = (await loadLlamaGguf(f32Path)).model;
      run(on, true); // sessions built and weights held without adapters
      adapt(on);
      adapt(off);
      expect(maxDiff(run(on, true), run(off, false))).toBeLessThan(1e-4);
    });

    it("F32 fed (no file): every layer's steps in one stacked graph with their adapters", async () => {
      const { model: loaded } = await loadLlamaGguf(f32Path);
      const copy = (lin: Linear) =>
        new Linear(lin.name, new Tensor((lin.weight as Tensor).data.slice(), lin.weight.shape));
      const fed = () =>
        new LlamaModel(loaded.config, {
          ...loaded.weights,
          layers: loaded.weights.layers.map((l) => ({
            ...l,
            ...Object.fromEntries((["q", "k", "v", "o", "gate", "up", "down"] as const).map((n) => [n, copy(l[n])])),
          })),
        });
      const [on, off] = [fed(), fed()];
      adapt(on);
      adapt(off);
      const got = run(on, true);
      expect(LayerGraphs.for(on)!.holdsWeights).toBe(false);
      expect(maxDiff(got, run(off, false))).toBeLessThan(1e-4);
    });

    it.each([
      ["Q4_0", GgmlType.Q4_0],
      ["Q4_K", GgmlType.Q4_K], // its minimums' Gemm before the adapters' two
    ] as const)("%s: MatMulNBits and the adapters in one graph, the per-op path's logits", async (label, type) => {
      const file = await rewriteGguf(f32Path, path.join(tmp, `${label}-lora.gguf`), { matrixType: type });
      const on = (await loadLlamaGguf(file)).model;
      const off = (await loadLlamaGguf(file)).model;
      const base = run((await loadLlamaGguf(file)).model, false);
      adapt(on);
      adapt(off);
      const got = run(on, true);
      expect(LayerGraphs.for(on)!.quantized).toBe(true);
      const want = run(off, false);
      const largest = Math.max(...want.map((x) => x.reduce((m, v) => Math.max(m, Math.abs(v)), 0)));
      expect(maxDiff(want, base)).toBeGreaterThan(0.05 * largest);
      // as for the quantized layers alone: int8 activations rounded in two kernels' order (2% of the largest logit)
      expect(maxDiff(got, want)).toBeLessThan(0.02 * largest);
    });
  });

  it("Q4_K: its own 4-bit blocks with the minimums apart (the head as 8-bit blocks); the exact per-op path's logits", async () => {
    const file = await rewriteGguf(f32Path, path.join(tmp, "q4k.gguf"), { matrixType: GgmlType.Q4_K });
    const on = (await loadLlamaGguf(file)).model;
    const off = (await loadLlamaGguf(file)).model;
    expect(LayerGraphs.for(on)?.quantized).toBe(true);
    const want = run(off, false); // exact: tiles of x · dequant(W)ᵀ at decode-sized rows
    const largest = Math.max(...want.map((x) => x.reduce((m, v) => Math.max(m, Math.abs(v)), 0)));
    // the layers' values are Q4_K's own; activations round to int8 per block, and the head's values move
    // by at most max|w|/254 of their block of 32
    expect(maxDiff(run(on, true), want)).toBeLessThan(0.02 * largest);
  });

  it("F16: 8-bit MatMulNBits blocks, layers and head; the exact per-op path's logits", async () => {
    const file = await rewriteGguf(f32Path, path.join(tmp, "f16.gguf"), { matrixType: GgmlType.F16 });
    const on = (await loadLlamaGguf(file)).model;
    const off = (await loadLlamaGguf(file)).model;
    expect(LayerGraphs.for(on)?.quantized).toBe(true);
    const want = run(off, false); // exact: tiles of x · dequant(W)ᵀ
    const largest = Math.max(...want.map((x) => x.reduce((m, v) => Math.max(m, Math.abs(v)), 0)));
    // two roundings where Q8_0/Q4_K have one: the weights to 8 bits (by at most max|w|/254 of their
    // block), then the activations to int8; measured 2.05% of the largest logit
    expect(maxDiff(run(on, true), want)).toBeLessThan(0.03 * largest);
  });
});
