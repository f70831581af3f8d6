// The trainer's micro-step (lossAndBackward) runs in an arena scope that hands its arrays to the next
// step: on the real stories260K, step after step, with and without gradient checkpointing, and on a
// QLoRA (q4_0) base, its losses and adapter gradients equal those of the same graph run with no arena.
import { describe, expect, it } from "vitest";
import { loadLlama } from "../../src/models/llama/load.js";
import { attachLora } from "../../src/models/lora/index.js";
import { randn, Rng, type Tensor } from "../../src/tensor/index.js";
import { checkpointedLoss, lossAndBackward } from "../../src/train/checkpointing.js";
import { fixture } from "../helpers/fixtures.js";

const MODEL = fixture("models/stories260K-gguf/stories260K.gguf");

describe("lossAndBackward in the step arena", () => {
  for (const quantize of [undefined, "q4_0"] as const) {
    it(`equals the unpooled step, three steps running, with and without checkpointing (${quantize ?? "f32"} base)`, async () => {
      const { model } = await loadLlama(MODEL, quantize ? { quantize } : {});
      const set = attachLora(model, { r: 4, alpha: 8, dropout: 0.1, targets: ["all-linear"], seed: 4 });
      const rng = new Rng(5);
      for (const ad of set.adapters.values()) ad.b.data.set(randn(rng, ad.b.size, 0.05));
      const t = 48;
      const ids = Int32Array.from({ length: 2 * t }, (_, i) => (i * 37 + 11) % 500);
      const labels = Int32Array.from(ids, (_, i) => (i % t < t - 1 ? ids[i + 1]! : -100));
      const batch = { ids, labels, batch: 2 };
      const start = set.rng.state();
      const grads = () => set.params().map((p) => p.grad!.data.slice());
      const unpooled = (ckpt: boolean): { value: number; grads: Float32Array[] } => {
        set.rng.setState(start);
        for (const p of set.params()) p.grad = null;
        const l: Tensor = ckpt ? checkpointedLoss(model, batch, set.rng) : model.loss(batch);
        l.backward();
        return { value: l.item(), grads: grads() };
      };
      for (const ckpt of [false, true]) {
        const want = unpooled(ckpt);
        for (let step = 0; step < 3; step++) {
          set.rng.setState(start);
          for (const p of set.params()) p.grad = null;
          const value = lossAndBackward(model, batch, 1, ckpt ? set.rng : undefined);
          expect(value).toBe(want.value);
          grads().forEach((g, i) => expect(g, `ckpt ${ckpt} step ${step} param ${i}`).toEqual(want.grads[i]));
        }
      }
    });
  }
});
