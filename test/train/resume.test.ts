// Checkpoints: a run stopped by an abort after step 5 saves a checkpoint, and --resume continues it
// bit for bit (dropout on, so the RNG state matters) to the adapter an uninterrupted run writes.
// Also QLoRA: a base quantized on load (q8_0, nf4) or stored as Q8_0 trains; the model's own chat
// template renders records; early stop.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readPeftAdapter } from "../../src/formats/peft.js";
import type { TuneOptions } from "../../src/train/options.js";
import { dryRunTune, tune } from "../../src/train/tune.js";
import { GGUF_KEYS, kv } from "../../src/formats/gguf/index.js";
import { fixture } from "../helpers/fixtures.js";
import {
  CHATML_JINJA,
  QA_TEMPLATE,
  expectBitExactResume,
  factRecords,
  ggufCopy,
  tempDir,
  writeJsonl,
} from "./helpers.js";

const MODEL = fixture("models/stories260K-gguf/stories260K.gguf");
const dir = tempDir();
const data = writeJsonl(path.join(dir, "fact.jsonl"), factRecords(40));
writeFileSync(path.join(dir, "qa.txt"), QA_TEMPLATE);
const base = (out: string): TuneOptions => ({
  model: MODEL,
  data: [{ path: data }],
  out,
  template: path.join(dir, "qa.txt"),
  maxSteps: 8,
  batchSize: 3,
  gradAccum: 2,
  lr: 5e-3,
  dropout: 0.1,
  evalEvery: 4,
  seed: 11,
});
describe("checkpoints", () => {
  it("resumes after an abort bit for bit", () => expectBitExactResume(base, path.join(dir, "abort"), 5, 8), 300_000);

  it("refuses to resume a checkpoint written with other settings", async () => {
    const out = path.join(dir, "other");
    await tune({ ...base(out), maxSteps: 2, saveEvery: 1 });
    await expect(tune({ ...base(out), maxSteps: 2, rank: 4, resume: true })).rejects.toMatchObject({
      code: "train.checkpoint_mismatch",
    });
  }, 300_000);
});

describe("a base with its own chat template, stored as Q8_0", () => {
  it("renders records with the model's template, masks the prompt, and trains on the Q8_0 matrices as stored", async () => {
    const model = await ggufCopy(
      MODEL,
      path.join(dir, "chat-q8.gguf"),
      new Map([[GGUF_KEYS.chatTemplate, kv.str(CHATML_JINJA)]]),
      true,
    );
    const chat = writeJsonl(
      path.join(dir, "chat.jsonl"),
      factRecords(40).map((r) => ({
        messages: [
          { role: "system", content: "Answer." },
          { role: "user", content: r.instruction },
          { role: "assistant", content: r.output },
        ],
      })),
    );
    const opts = { model, data: [{ path: chat }], out: path.join(dir, "chat-q8") };
    const dry = await dryRunTune(opts);
    expect(dry.template).toBe("model");
    expect(dry.samples[0]!.text).toMatch(
      /^<s> ?<\|im_start\|>system\nAnswer\.<\|im_end\|>\n<\|im_start\|>user\n.*<\|im_end\|>\n<\|im_start\|>assistant\nThe dragon is called Zib\.<\|im_end\|>\n$/s,
    );
    expect(dry.samples[0]!.learned.trim()).toBe("The dragon is called Zib.<|im_end|>");
    const r = await tune({ ...opts, maxSteps: 6, batchSize: 6, lr: 1e-2, dropout: 0 });
    expect(r.baseDtype).toBe("q8_0");
    expect(r.lastEvalLoss!).toBeLessThan(r.firstEvalLoss! * 0.6);
  }, 120_000);
});

describe("early stop", () => {
  it("stops after `patience` evaluations without a better validation loss", async () => {
    // lr 1e-12 leaves the f32 logits unchanged, so no evaluation beats the first.
    const r = await tune({ ...base(path.join(dir, "early")), lr: 1e-12, evalEvery: 1, patience: 2, maxSteps: 8 });
    expect(r.stoppedEarly).toBe(true);
    expect(r.steps).toBe(2);
  }, 120_000);
});

describe("QLoRA", () => {
  it.each(["q8_0", "nf4"] as const)(
    "trains on a %s base and lowers the loss",
    async (q) => {
      const out = path.join(dir, `qlora-${q}`);
      const r = await tune({ ...base(out), quantize: q, dropout: 0, lr: 1e-2, evalEvery: 0 });
      expect(r.baseDtype).toBe(q);
      const lines = readFileSync(path.join(out, "metrics.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { eval_loss?: number });
      const evals = lines.filter((l) => l.eval_loss !== undefined).map((l) => l.eval_loss!);
      expect(evals.at(-1)!).toBeLessThan(evals[0]! * 0.6);
      expect((await readPeftAdapter(out)).pairs).toHaveLength(10);
    },
    300_000,
  );
});
