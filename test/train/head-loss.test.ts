// model.loss and checkpointedLoss run the output head fused with the loss (linearCrossEntropy); here
// they are compared with crossEntropy over model.forward's full logits on the real stories260K: same
// loss and LoRA gradients, with the plain head and with an adapter on lm_head (which takes the
// unfused path), f32 and quantized (q8_0) bases, the latter with QLoRA's Q8_0 vocabulary tables.
import { describe, expect, it } from "vitest";
import { loadLlama } from "../../src/models/llama/load.js";
import { attachLora } from "../../src/models/lora/index.js";
import {
  crossEntropy,
  dropDequantCache,
  linearCrossEntropy,
  noGrad,
  QuantTensor,
  quantize,
  randn,
  reshape,
  Rng,
  Tensor,
} from "../../src/tensor/index.js";
import { PIN_VALUES, pinnedDequantized } from "../../src/tensor/quant/qmatmul-train.js";
import { headLoss } from "../../src/models/llama/head-loss.js";
import { checkpointedLoss } from "../../src/train/checkpointing.js";
import { quantizeFrozenTables } from "../../src/train/frozen.js";
import { fixture } from "../helpers/fixtures.js";
import { maxRelDiff } from "../tensor/helpers.js";

const MODEL = fixture("models/stories260K-gguf/stories260K.gguf");

describe("the fused head loss", () => {
  for (const [quantize, targets] of [
    [undefined, ["q_proj", "v_proj"]],
    [undefined, ["q_proj", "lm_head"]],
    ["q8_0", ["all-linear"]],
  ] as const) {
    it(`equals crossEntropy(forward) in loss and adapter gradients (${quantize ?? "f32"}, ${targets.join(",")})`, async () => {
      const { model } = await loadLlama(MODEL, quantize ? { quantize } : {});
      if (quantize) quantizeFrozenTables(model); // the head is a QuantTensor then
      const set = attachLora(model, { r: 4, alpha: 8, targets: [...targets], seed: 3 });
      const rng = new Rng(6);
      for (const ad of set.adapters.values()) ad.b.data.set(randn(rng, ad.b.size, 0.05));
      const t = 24;
      const ids = Int32Array.from({ length: 2 * t }, () => 1 + (rng.nextU32() % (model.config.vocabSize - 1)));
      const labels = Int32Array.from(ids, (_, i) => (i % t < t - 1 && i % t >= 5 ? ids[i + 1]! : -100));
      const batch = { ids, labels, batch: 2 };
      const run = (loss: () => Tensor): { value: number; grads: Float32Array[] } => {
        for (const p of set.params()) p.grad = null;
        const l = loss();
        l.backward();
        return { value: l.item(), grads: set.params().map((p) => p.grad!.data.slice()) };
      };
      const unfused = run(() =>
        crossEntropy(reshape(model.forward(batch), [-1, model.config.vocabSize]), labels, { ignoreIndex: -100 }),
      );
      for (const fused of [run(() => model.loss(batch)), run(() => checkpointedLoss(model, batch, set.rng))]) {
        expect(Math.abs(fused.value - unfused.value) / unfused.value).toBeLessThan(1e-5);
        fused.grads.forEach((g, i) => expect(maxRelDiff(g, unfused.grads[i]!)).toBeLessThan(1e-5));
      }
      expect(unfused.grads.every((g) => g.some((v) => v !== 0))).toBe(true);
    });
  }

  it("QLoRA's Q8_0 vocabulary tables keep the loss within 1e-3 and a tied head tied", async () => {
    const { model } = await loadLlama(MODEL);
    const rng = new Rng(2);
    const ids = Int32Array.from({ length: 32 }, () => 1 + (rng.nextU32() % (model.config.vocabSize - 1)));
    const batch = { ids, labels: Int32Array.from(ids, (_, i) => ids[i + 1] ?? -100), batch: 1 };
    const before = model.loss(batch).item();
    const tied = model.weights.output.weight === model.weights.tokenEmbd;
    quantizeFrozenTables(model);
    const { tokenEmbd, output } = model.weights;
    expect(tokenEmbd instanceof QuantTensor && tokenEmbd.type === "q8_0").toBe(true);
    expect(output.weight instanceof QuantTensor && output.weight.type === "q8_0").toBe(true);
    expect(output.weight === tokenEmbd).toBe(tied);
    expect(Math.abs(model.loss(batch).item() - before) / before).toBeLessThan(1e-3);
  });

  it("in training, a quantized head within PIN_VALUES is decoded once for the run: the tiles' loss and dH", async () => {
    const { model } = await loadLlama(MODEL);
    quantizeFrozenTables(model);
    const head = model.weights.output;
    const w = head.weight as QuantTensor;
    const rng = new Rng(9);
    const n = 40;
    const labels = Int32Array.from({ length: n }, (_, i) => (i % 7 === 3 ? -100 : rng.nextU32() % w.rows));
    const h = () => new Tensor(randn(new Rng(4), n * w.rowLength, 1), [n, w.rowLength], true);
    dropDequantCache();
    const tiles = h();
    const want = linearCrossEntropy(tiles, w, labels, { ignoreIndex: -100 }); // the quantized head's own path
    want.backward();
    const held = h();
    const got = headLoss(head, held, labels);
    got.backward();
    expect(Math.abs(got.item() - want.item()) / want.item()).toBeLessThan(1e-5);
    expect(maxRelDiff(held.grad!.data, tiles.grad!.data)).toBeLessThan(1e-5);
    // held for the run: the same array on the next step, freed by dropDequantCache; eval does not pin
    const first = pinnedDequantized(w);
    expect(first).toEqual(w.dequantize());
    expect(pinnedDequantized(w)).toBe(first);
    dropDequantCache();
    noGrad(() => headLoss(head, h(), labels));
    expect(pinnedDequantized(w)).not.toBe(first);
    dropDequantCache();
    const big = quantize("q8_0", new Float32Array(PIN_VALUES + 32), [(PIN_VALUES + 32) / 32, 32]);
    expect(pinnedDequantized(big)).toBeNull();
  });
});
