// Export (issue 15): a GGUF in each scheme, mixed as llama.cpp mixes it, with the chat template inside
// and an Ollama Modelfile; each file loaded in llama.cpp (node-llama-cpp) against our engine.
// Tolerances, measured on the tiny random llama (width 256, logits of magnitude ~1–3):
// - ours vs llama.cpp on the same exported file: ≤ 0.06 for every scheme (llama.cpp rounds activations
//   to 8 bits per block before its quantized dot products; measured 0.024–0.036);
// - the exported file vs the F32 original (the quantization's own error): Q8_0 ≤ 0.06 (measured 0.035),
//   Q6_K ≤ 0.15 (0.093), Q5_K_M ≤ 0.3 (0.18), Q4_K_M ≤ 0.5 (0.31), Q4_0 ≤ 0.5 (0.35).
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GGUF_KEYS, GgmlType, kv, openGguf } from "../../src/formats/gguf/index.js";
import { quantizeQ5_K, quantizeQ6_K, Q5_K_BYTES, Q6_K_BYTES } from "../../src/formats/gguf/kquants.js";
import { loadLlamaGguf } from "../../src/models/llama/load.js";
import { CODECS } from "../../src/tensor/quant/formats.js";
import { exportModel } from "../../src/train/export/export.js";
import { exportType, useMoreBits } from "../../src/train/export/mix.js";
import { modelfile, translateTemplate } from "../../src/train/export/modelfile.js";
import { greedy } from "../models/helpers.js";
import { llamaCppLogits, loadOracleModel, maxAbsDiff, oracle } from "../models/oracle.js";
import { writeTinyLlamaF32Gguf } from "../models/tiny-decoders.js";
import { seededFloats } from "../formats/tiny-models.js";
import { CHATML_JINJA, ggufCopy, tempDir } from "./helpers.js";

const dir = tempDir("infuse-export-");
let base: string;
beforeAll(async () => {
  const f32 = await writeTinyLlamaF32Gguf(dir);
  const extra = new Map([[GGUF_KEYS.chatTemplate, kv.str(CHATML_JINJA)]]);
  base = await ggufCopy(f32, path.join(dir, "chat.gguf"), extra, false);
}, 60_000);
afterAll(async () => (await oracle()).dispose());

describe("llama.cpp's mixing rules", () => {
  it("Q4_K_M: output as Q6_K, attn_v and ffn_down as Q6_K in the layers use_more_bits picks, norms F32", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].filter((l) => useMoreBits(l, 8))).toEqual([0, 3, 6, 7]);
    const t = (name: string, dims = [256, 256]) => exportType("q4_k_m", { name, dims }, 8, false);
    expect(t("output.weight")).toBe(GgmlType.Q6_K);
    expect(t("token_embd.weight")).toBe(GgmlType.Q4_K);
    expect(exportType("q4_k_m", { name: "token_embd.weight", dims: [256, 9] }, 8, true)).toBe(GgmlType.Q6_K); // tied
    expect([0, 1, 3].map((l) => t(`blk.${l}.attn_v.weight`))).toEqual([GgmlType.Q6_K, GgmlType.Q4_K, GgmlType.Q6_K]);
    expect([0, 1, 3].map((l) => t(`blk.${l}.ffn_down.weight`))).toEqual([GgmlType.Q6_K, GgmlType.Q4_K, GgmlType.Q6_K]);
    expect(t("blk.0.attn_q.weight")).toBe(GgmlType.Q4_K);
    expect(t("blk.0.attn_norm.weight", [256])).toBe(GgmlType.F32);
    expect(t("blk.0.attn_q.weight", [64, 64])).toBe(GgmlType.Q8_0); // rows that do not fill 256-value blocks
    expect(exportType("q5_k_m", { name: "blk.1.attn_q.weight", dims: [256, 256] }, 8, false)).toBe(GgmlType.Q5_K);
    expect(exportType("q8_0", { name: "output.weight", dims: [256, 256] }, 8, false)).toBe(GgmlType.Q8_0);
    expect(exportType("q4_0", { name: "output.weight", dims: [256, 256] }, 8, false)).toBe(GgmlType.Q6_K);
  });

  it("Q5_K and Q6_K blocks decode (with the engine's ggml-exact decoders) to within their step", () => {
    const x = seededFloats(1024, 5, 1);
    const amax = x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    for (const [enc, bytes, codec, bound] of [
      [quantizeQ5_K, Q5_K_BYTES, CODECS.q5_k, (2 * amax) / 31],
      [quantizeQ6_K, Q6_K_BYTES, CODECS.q6_k, amax / 31],
    ] as const) {
      const q = new Uint8Array((x.length / 256) * bytes);
      enc(x, q);
      const y = new Float32Array(x.length);
      codec.dequantize(q, 0, x.length / 256, y);
      expect(maxAbsDiff(x, y)).toBeLessThan(bound);
    }
  });
});

describe("infuse export", () => {
  const BOUNDS = { q8_0: 0.06, q6_k: 0.15, q5_k_m: 0.3, q4_k_m: 0.5, q4_0: 0.5 } as const;
  for (const [quant, bound] of Object.entries(BOUNDS) as [keyof typeof BOUNDS, number][]) {
    it(`${quant}: llama.cpp loads it and gives our logits; the chat template is inside; a Modelfile beside`, async () => {
      const r = await exportModel(base, { out: path.join(dir, quant), quantize: quant });
      const file = await openGguf(r.gguf);
      expect(file.get(GGUF_KEYS.chatTemplate)).toBe(CHATML_JINJA);
      file.close();
      const ours = await loadLlamaGguf(r.gguf);
      const ids = ours.tokenizer.encode("Once upon a time, a little bird wanted to fly over the big hill.");
      const mine = greedy(ours.model, ids, 1).logits[0]!;
      const model = await loadOracleModel(r.gguf);
      const [theirs] = await llamaCppLogits(model, ids, ours.model.config.vocabSize, [ids.length - 1]);
      await model.dispose();
      expect(maxAbsDiff(mine, theirs!)).toBeLessThan(0.06);
      const f32 = await loadLlamaGguf(base);
      expect(maxAbsDiff(mine, greedy(f32.model, ids, 1).logits[0]!)).toBeLessThan(bound);
      expect(readFileSync(r.modelfile, "utf8")).toMatch(
        /^FROM \.\/chat-\S+\.gguf\nTEMPLATE """.*<\|im_start\|>user\n\{\{ \.Prompt \}\}/s,
      );
      if (quant === "q4_k_m") expect(r.types).toEqual({ Q4_K: 13, Q6_K: 3, F32: 5 });
    }, 60_000);
  }
});

describe("the Modelfile's TEMPLATE", () => {
  it("is the family's for known templates and the rendered wrapper for others, with stops", () => {
    const mf = modelfile("m.gguf", CHATML_JINJA).text;
    expect(mf).toContain('PARAMETER stop "<|im_end|>"');
    expect(translateTemplate("{{ '[INST] ' + messages[0]['content'] + ' [/INST]' }}").family).toBe("llama2");
    const qa =
      "{% for m in messages %}{% if m['role'] == 'user' %}{{ 'Q: ' + m['content'] + '\\nA:' }}{% endif %}{% endfor %}";
    const t = translateTemplate(qa, { bos: "<s>", eos: "</s>" });
    expect(t).toEqual({ family: "generic", template: "Q: {{ .Prompt }}\nA:{{ .Response }}", stop: [] });
    expect(modelfile("m.gguf", undefined).text).toBe("FROM ./m.gguf\n");
  });
});
