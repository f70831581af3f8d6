// What the embedding trainer builds on: the encoder is differentiable end to end (pooled vectors →
// loss → gradients on every weight, or on LoRA adapters alone through models/lora), and the fused
// onnxruntime LayerNorm and GELU kernels give the TypeScript kernels' values and gradients.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { encodeTexts, loadBertGguf, type LoadedBert } from "../../src/models/bert/index.js";
import { LoraAdapter } from "../../src/models/lora/index.js";
import { gelu, layerNorm, mul, Rng, randn, setMatmulPath, sum, Tensor } from "../../src/tensor/index.js";
import { writeTinyBertGguf } from "../helpers/tiny-bert-gguf.js";

function both<T>(f: () => T): [T, T] {
  setMatmulPath("ort");
  const fast = f();
  setMatmulPath("reference");
  const slow = f();
  setMatmulPath("auto");
  return [fast, slow];
}

function close(a: Float32Array, b: Float32Array, tol: number): void {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  expect(m).toBeLessThan(tol);
}

describe("fused LayerNorm and GELU kernels", () => {
  afterEach(() => setMatmulPath("auto"));

  it("onnxruntime LayerNorm equals the TypeScript loops, forward and backward (x, weight, bias)", () => {
    const rng = new Rng(3);
    const x0 = new Tensor(randn(rng, 240, 2), [6, 40]);
    const w0 = new Tensor(randn(rng, 40), [40]);
    const b0 = new Tensor(randn(rng, 40), [40]);
    const g = new Tensor(randn(rng, 240), [6, 40]);
    const [fast, slow] = both(() => {
      const [x, w, b] = [x0, w0, b0].map((t) => new Tensor(Float32Array.from(t.data), t.shape, true)) as [
        Tensor,
        Tensor,
        Tensor,
      ];
      const y = layerNorm(x, w, b, 1e-12);
      sum(mul(y, g)).backward();
      return [y.data, x.grad!.data, w.grad!.data, b.grad!.data];
    });
    for (let i = 0; i < 4; i++) close(fast[i]!, slow[i]!, 1e-4);
  });

  it("onnxruntime GELU (erf) equals the TypeScript loop, forward and backward", () => {
    const rng = new Rng(4);
    const x0 = new Tensor(randn(rng, 500, 2), [500]);
    const g = new Tensor(randn(rng, 500), [500]);
    const [fast, slow] = both(() => {
      const x = new Tensor(Float32Array.from(x0.data), x0.shape, true);
      const y = gelu(x, "erf");
      sum(mul(y, g)).backward();
      return [y.data, x.grad!.data];
    });
    close(fast[0]!, slow[0]!, 1e-5);
    close(fast[1]!, slow[1]!, 1e-4);
  });
});

describe("training the encoder", () => {
  let tmp: string;
  let loaded: LoadedBert;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), "infuse-bert-train-"));
    loaded = await loadBertGguf(await writeTinyBertGguf(path.join(tmp, "t.gguf"), { hidden: 32, layers: 2, heads: 2 }));
  });
  afterAll(() => rm(tmp, { recursive: true, force: true }));

  const batch = () => {
    const enc = encodeTexts(loaded.tokenizer, ["a cat on a mat", "dogs bark loudly at night", "hi"], 128);
    return { ids: enc.ids, batch: enc.batch, attentionMask: enc.attentionMask };
  };
  /** Pulls vector 0 toward vector 1: −cos-like dot product of the pooled vectors. */
  const loss = (v: Tensor): Tensor => {
    const d = v.shape[1]!;
    const sel = new Float32Array(v.size);
    for (let j = 0; j < d; j++) sel[j] = -v.data[d + j]!;
    return sum(mul(v, new Tensor(sel, v.shape)));
  };

  it("full fine-tuning: every parameter gets a finite gradient, and a step lowers the loss", () => {
    const params = loaded.model.parameters();
    for (const p of params) p.requiresGrad = true;
    const l0 = loss(loaded.model.encode(batch(), "mean"));
    l0.backward();
    for (const p of params.filter((p) => p !== loaded.model.weights.tokenEmbd)) {
      expect(p.grad, `grad of a ${p.shape.join("×")} parameter`).not.toBeNull();
      expect(p.grad!.data.every(Number.isFinite)).toBe(true);
    }
    for (const p of params) {
      for (let i = 0; i < p.size; i++) p.data[i]! -= 1e-3 * (p.grad?.data[i] ?? 0);
      p.grad = null;
      p.requiresGrad = false;
    }
    const l1 = loss(loaded.model.encode(batch(), "mean"));
    expect(l1.data[0]).toBeLessThan(l0.data[0]!);
  });

  it("LoRA on q and v: gradients reach the adapters only, and a zero-B adapter leaves the vectors as they were", () => {
    const before = loaded.model.encode(batch(), "cls").data;
    const rng = new Rng(1);
    const adapters: LoraAdapter[] = [];
    for (const [name, lin] of loaded.model.linears()) {
      if (!/attn_[qv]$/.test(name)) continue;
      const ad = new LoraAdapter(lin.inFeatures, lin.outFeatures, { r: 4, alpha: 8 }, rng);
      lin.adapter = ad;
      adapters.push(ad);
    }
    expect(adapters).toHaveLength(4);
    const v = loaded.model.encode(batch(), "cls");
    close(v.data, before, 1e-6);
    loss(v).backward();
    for (const ad of adapters) expect(ad.b.grad!.data.some((g) => g !== 0)).toBe(true);
    expect((loaded.model.weights.layers[0]!.q.weight as Tensor).requiresGrad).toBe(false);
    for (const lin of loaded.model.linears().values()) lin.adapter = null;
  });
});
