// Fine-tunes the real trained stories260K (GGUF) and TinyStories-656K (HF safetensors) on 200 records
// of a made-up fact: validation loss falls to under a third, greedy generation then states the fact,
// llama.cpp applying the exported adapter.gguf gives our logits, PEFT files round-trip, and the merged
// GGUF gives the logits of base + adapter.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convertHfToGguf } from "../../src/formats/convert/hf-to-gguf.js";
import { readPeftAdapter } from "../../src/formats/peft.js";
import { generate } from "../../src/models/generate.js";
import { LlamaDecoder } from "../../src/models/llama/decode.js";
import { loadLlama, type LoadedLlama } from "../../src/models/llama/load.js";
import { loadLora, toPeft } from "../../src/models/lora/index.js";
import { promptIds } from "../../src/train/data/encode.js";
import type { TrainRecord } from "../../src/train/data/records.js";
import { fileTemplate } from "../../src/train/data/templates.js";
import { mergeAdapter } from "../../src/train/merge.js";
import { tune, type TuneResult } from "../../src/train/tune.js";
import { fixture } from "../helpers/fixtures.js";
import { FACT_ANSWER, QA_TEMPLATE, factRecords, tempDir, writeJsonl } from "./helpers.js";
import { llamaCppLogitsWithLora, loadOracleModel, maxAbsDiff, oracle } from "./oracle.js";

const MODELS = [
  { name: "stories260K (GGUF)", path: fixture("models/stories260K-gguf/stories260K.gguf"), lr: 1e-2 },
  { name: "TinyStories-656K (HF safetensors)", path: fixture("models/tinystories-656k-hf"), lr: 3e-2 },
];
/** Questions asked as the template renders them (tokens exactly as in training, up to the answer). */
const QUESTIONS: TrainRecord[] = [
  { kind: "instruction", instruction: "What is the dragon called?", input: "", output: FACT_ANSWER, where: "q1" },
  {
    kind: "instruction",
    instruction: "Tell me the dragon's name.",
    input: "Mia asks.",
    output: FACT_ANSWER,
    where: "q2",
  },
];

afterAll(async () => (await oracle()).dispose());

describe.each(MODELS)("LoRA on $name", ({ path: modelPath, lr }) => {
  const dir = tempDir();
  const out = path.join(dir, "out");
  let result: TuneResult;
  let tuned: LoadedLlama;
  let prompts: number[][];

  beforeAll(async () => {
    const data = writeJsonl(path.join(dir, "fact.jsonl"), factRecords(200));
    writeFileSync(path.join(dir, "qa.txt"), QA_TEMPLATE);
    result = await tune({
      model: modelPath,
      data: [{ path: data }],
      out,
      template: path.join(dir, "qa.txt"),
      maxSteps: 14,
      batchSize: 8,
      lr,
      warmupSteps: 2,
      evalEvery: 7,
      dropout: 0,
      seed: 3,
    });
    tuned = await loadLlama(modelPath);
    await loadLora(tuned.model, out);
    const template = fileTemplate(QA_TEMPLATE, "qa");
    prompts = QUESTIONS.map((q) => promptIds(tuned.tokenizer, template, q));
  }, 600_000);

  it("lowers the validation loss to under a third and then states the fact", async () => {
    expect(result.valExamples).toBe(20);
    expect(result.firstEvalLoss!).toBeGreaterThan(1.5);
    expect(result.lastEvalLoss!).toBeLessThan(result.firstEvalLoss! / 3);
    for (const prompt of prompts) {
      const g = await generate(tuned.model, tuned.tokenizer, prompt, { temperature: 0, maxTokens: 24 });
      expect(g.text.trim().startsWith(FACT_ANSWER)).toBe(true);
    }
    const base = await loadLlama(modelPath);
    const g = await generate(base.model, base.tokenizer, prompts[0]!, { temperature: 0, maxTokens: 24 });
    expect(g.text).not.toContain("Zib");
  });

  it("writes metrics.jsonl, loss.svg and the config used", () => {
    const lines = readFileSync(path.join(out, "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, number>);
    expect(lines.filter((l) => l["loss"] !== undefined).map((l) => l["step"])).toEqual(
      Array.from({ length: 14 }, (_, i) => i + 1),
    );
    expect(lines.filter((l) => l["eval_loss"] !== undefined).map((l) => l["step"])).toEqual([0, 7, 14]);
    for (const l of lines.filter((x) => x["loss"] !== undefined)) {
      expect(l["lr"]).toBeGreaterThan(0);
      expect(l["tokens_per_s"]).toBeGreaterThan(0);
    }
    expect(readFileSync(path.join(out, "loss.svg"), "utf8")).toMatch(/^<svg[\s\S]*<path d="M[\s\S]*<\/svg>/);
    const cfg = JSON.parse(readFileSync(path.join(out, "tune-config.json"), "utf8")) as Record<string, unknown>;
    expect(cfg).toMatchObject({ rank: 8, alpha: 16, targets: ["q_proj", "v_proj"], lr, maxSteps: 14, seed: 3 });
  });

  it("round-trips the PEFT files", async () => {
    const saved = await readPeftAdapter(out);
    expect(saved.config).toMatchObject({
      peft_type: "LORA",
      r: 8,
      lora_alpha: 16,
      target_modules: ["q_proj", "v_proj"],
    });
    expect(saved.pairs.map((p) => p.target).sort()).toContain("model.layers.0.self_attn.q_proj.weight");
    const again = toPeft(await loadLlama(modelPath).then(async (l) => loadLora(l.model, out)));
    for (const p of saved.pairs) {
      const q = again.pairs.find((x) => x.target === p.target)!;
      expect(Buffer.from(q.a.buffer).equals(Buffer.from(p.a.buffer))).toBe(true);
      expect(Buffer.from(q.b.buffer).equals(Buffer.from(p.b.buffer))).toBe(true);
    }
    // B learned something on every adapted layer.
    expect(saved.pairs.every((p) => p.b.some((v) => v !== 0))).toBe(true);
  });

  it("gives llama.cpp's logits when llama.cpp applies adapter.gguf (max |diff| ≤ 1e-3)", async () => {
    let ggufBase = modelPath;
    if (!modelPath.endsWith(".gguf")) {
      ggufBase = path.join(dir, "base-f32.gguf");
      await convertHfToGguf(modelPath, ggufBase, { outType: "F32" });
    }
    const oracleModel = await loadOracleModel(ggufBase);
    const ids = [...prompts[1]!, ...tuned.tokenizer.encode("The dragon", { addSpecial: false })];
    const v = tuned.model.config.vocabSize;
    const ours = new LlamaDecoder(tuned.model).eval(ids);
    const theirs = await llamaCppLogitsWithLora(oracleModel, ids, v, path.join(out, "adapter.gguf"));
    const without = await llamaCppLogitsWithLora(oracleModel, ids, v);
    expect(maxAbsDiff(ours, without)).toBeGreaterThan(0.1); // the adapter matters
    expect(maxAbsDiff(ours, theirs)).toBeLessThanOrEqual(1e-3);
    // merged GGUF = base + adapter
    const merged = path.join(dir, "merged.gguf");
    const m = await mergeAdapter(modelPath, out, merged);
    expect(m.merged).toBe(2 * tuned.model.config.layers);
    const mergedModel = await loadLlama(merged);
    const mergedLogits = new LlamaDecoder(mergedModel.model).eval(ids).subarray(0, v); // the converter pads the vocabulary
    expect(maxAbsDiff(mergedLogits, ours)).toBeLessThanOrEqual(1e-3);
    await oracleModel.dispose();
  }, 120_000);
});
