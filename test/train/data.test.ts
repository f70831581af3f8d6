// Datasets and templates: every input format, record/field errors, prompt masking, truncation counts,
// raw-text blocks and packing, checked on the real fixture data sets and the stories260K vocabulary.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadLlama } from "../../src/models/llama/load.js";
import type { LlamaModel } from "../../src/models/llama/model.js";
import { Rng } from "../../src/tensor/index.js";
import { checkpointedLoss } from "../../src/train/checkpointing.js";
import { collate, epochBatches, splitExamples } from "../../src/train/data/batches.js";
import { encodeRecords, IGNORE, packExamples } from "../../src/train/data/encode.js";
import { loadRecords } from "../../src/train/data/records.js";
import { resolveTemplate } from "../../src/train/data/templates.js";
import type { Tokenizer } from "../../src/tokenizers/types.js";
import { fixture } from "../helpers/fixtures.js";
import { tempDir } from "./helpers.js";

let tok: Tokenizer;
let model: LlamaModel;
const dir = tempDir();
beforeAll(async () => {
  ({ tokenizer: tok, model } = await loadLlama(fixture("models/stories260K-gguf/stories260K.gguf")));
});

const learned = (ids: Int32Array, labels: Int32Array): string =>
  tok.decode(
    [...labels].filter((l) => l !== IGNORE),
    { skipSpecial: false },
  );

describe("dataset files", () => {
  it("reads Alpaca JSON, chat JSONL (messages and LIMA turn lists) and CSV columns from the fixtures", async () => {
    const alpaca = await loadRecords({ path: fixture("datasets/alpaca/alpaca_data_1k.json") });
    expect(alpaca).toHaveLength(1000);
    expect(alpaca[0]).toMatchObject({ kind: "instruction", input: "", output: "They walked to a nearby store." });
    // The LIMA file mixes turn lists and strings, and record 218 has a null prompt: named, not skipped.
    const limaFile = fixture("datasets/vi-lima-gpt4/vi_lima_gpt4_1030.jsonl");
    await expect(loadRecords({ path: limaFile })).rejects.toThrow(`${limaFile}:218: messages[0].content is missing`);
    const head = path.join(dir, "lima-head.jsonl");
    writeFileSync(head, readFileSync(limaFile, "utf8").split("\n").slice(0, 100).join("\n"));
    const lima = await loadRecords({ path: head });
    expect(lima).toHaveLength(100);
    expect(
      lima.every((r) => r.kind === "chat" && r.messages[0]!.role === "user" && r.messages[1]!.role === "assistant"),
    ).toBe(true);
    const csv = await loadRecords({
      path: fixture("datasets/financial-qa/syntheses_10.csv"),
      columns: { instruction: "question", input: "evidence_text", output: "answer" },
    });
    expect(csv).toHaveLength(150);
    expect(csv[0]).toMatchObject({ kind: "instruction", output: "$1577.00" });
    const first = csv[0]!;
    expect(first.kind === "instruction" && first.input).toContain("3M Company");
    const chat = path.join(dir, "chat.jsonl");
    writeFileSync(
      chat,
      JSON.stringify({
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: "Hi" },
          { role: "assistant", content: "Hello." },
        ],
      }) + "\n",
    );
    expect((await loadRecords({ path: chat }))[0]).toMatchObject({ kind: "chat", where: `${chat}:1` });
  });

  it("names the file, record and field that is missing or of the wrong type", async () => {
    const bad = path.join(dir, "bad.jsonl");
    writeFileSync(
      bad,
      [
        JSON.stringify({ instruction: "a", output: "b" }),
        JSON.stringify({ instruction: "c", output: 7 }),
        JSON.stringify({ instruction: "d" }),
      ].join("\n"),
    );
    await expect(loadRecords({ path: bad })).rejects.toMatchObject({
      code: "train.bad_record",
      message: expect.stringContaining(`${bad}:3: field "output" is missing`),
    });
    const wrong = path.join(dir, "wrong.jsonl");
    writeFileSync(wrong, JSON.stringify({ instruction: ["x"], output: "y" }) + "\n");
    await expect(loadRecords({ path: wrong })).rejects.toThrow(
      `${wrong}:1: field "instruction" is an array, expected text`,
    );
    const chat = path.join(dir, "badchat.jsonl");
    writeFileSync(
      chat,
      "\n" +
        JSON.stringify({
          messages: [
            { role: "user", content: "q" },
            { role: "bot", content: "a" },
          ],
        }),
    );
    await expect(loadRecords({ path: chat })).rejects.toThrow(`${chat}:2: messages[1].role is "bot"`);
    const csv = path.join(dir, "bad.csv");
    writeFileSync(csv, 'question,answer\n"what?",yes\nhow?\n');
    await expect(loadRecords({ path: csv, columns: { instruction: "question", output: "answer" } })).rejects.toThrow(
      `${csv}:3: 1 fields, the header has 2`,
    );
    // a column no record has fails the file, naming its fields, without suggesting to skip every row
    const cols = path.join(dir, "cols.csv");
    writeFileSync(cols, 'query_text,reply\n"what?",yes\n');
    const err = await loadRecords({ path: cols }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: "train.missing_column",
      message: `${cols}: no record has a field "instruction" (fields: query_text, reply)`,
    });
    expect((err as { hint: string }).hint).toContain("--instruction-column");
    expect((err as { hint: string }).hint).not.toContain("--skip-bad-records");
  });
});

describe("templates and encoding", () => {
  it("masks the prompt, learns the response and EOS, and renders alpaca, llama-2 and ChatML", async () => {
    const rec = { kind: "instruction" as const, instruction: "Name a color.", input: "", output: "Blue.", where: "r1" };
    for (const [name, head] of [
      ["alpaca", "### Instruction:\nName a color.\n\n### Response:\n"],
      ["llama2", "[INST] Name a color. [/INST]"],
      ["chatml", "<|im_start|>user\nName a color.<|im_end|>\n<|im_start|>assistant\n"],
    ] as const) {
      const t = await resolveTemplate(name, tok);
      const { examples } = encodeRecords(tok, t, [rec], { maxLength: 512 });
      const e = examples[0]!;
      expect(tok.decode([...e.ids], { skipSpecial: false })).toContain(head);
      expect(learned(e.ids, e.labels).trim()).toMatch(name === "chatml" ? /^Blue\.<\|im_end\|>$/ : /^Blue\.<\/s>$/);
      const all = encodeRecords(tok, t, [rec], { maxLength: 512, trainOnPrompt: true }).examples[0]!;
      expect(all.labels.filter((l) => l !== IGNORE).length).toBe(all.ids.length - 1);
    }
  });

  it("counts truncation, drops records with nothing left to learn, cuts raw text into blocks and packs", async () => {
    const t = await resolveTemplate("alpaca", tok);
    const recs = [
      { kind: "instruction" as const, instruction: "Say yes.", input: "", output: "Yes.", where: "a" },
      { kind: "instruction" as const, instruction: "word ".repeat(200), input: "", output: "No.", where: "b" },
    ];
    const { examples, stats } = encodeRecords(tok, t, recs, { maxLength: 128 });
    expect(stats).toMatchObject({ records: 2, truncated: 1, dropped: 0, examples: 2 });
    // The long prompt lost its middle: its head, the template's tail and the whole response stay.
    const long = examples[1]!;
    expect(long.ids.length).toBe(128);
    const rendered = tok.decode([...long.ids], { skipSpecial: false });
    expect(rendered).toMatch(/^<s> ?Below is an instruction/);
    expect(rendered).toMatch(/### Response:\nNo\.<\/s>$/);
    expect(learned(long.ids, long.labels)).toBe("No.</s>");
    const tooLong = encodeRecords(tok, t, [{ ...recs[1]!, output: "yes ".repeat(200) }], { maxLength: 128 });
    expect(tooLong.stats).toMatchObject({ truncated: 1, dropped: 1, examples: 0 }); // response alone overflows: prompt only
    const text = path.join(dir, "story.txt");
    writeFileSync(text, "Once upon a time there was a little dog. ".repeat(40));
    const raw = encodeRecords(tok, t, await loadRecords({ path: text }), { maxLength: 100 });
    expect(raw.examples.length).toBe(Math.ceil(raw.stats.lengths[0]! / 100));
    expect(
      raw.examples.every((e) => e.ids.length <= 100 && e.labels.filter((l) => l !== IGNORE).length >= e.ids.length - 1),
    ).toBe(true);
    const short = examples.slice(0, 1);
    const packed = packExamples([...short, ...short, ...short], 2 * short[0]!.ids.length);
    expect(packed.map((e) => e.ids.length)).toEqual([2 * short[0]!.ids.length, short[0]!.ids.length]);
  });

  it("packed examples neither attend to each other nor share positions: logits and loss as if apart", async () => {
    const t = await resolveTemplate("alpaca", tok);
    const recs = ["Name a color.", "Tell me about the big brown dog in the park."].map((instruction, i) => ({
      kind: "instruction" as const,
      instruction,
      input: "",
      output: i ? "The dog ran and played." : "Blue.",
      where: `r${i}`,
    }));
    const { examples } = encodeRecords(tok, t, recs, { maxLength: 256 });
    const [a, b] = examples as [(typeof examples)[0], (typeof examples)[0]];
    const packed = packExamples([a, b, a], a.ids.length + b.ids.length);
    expect(packed.map((e) => Array.from(new Set(e.segments)))).toEqual([[0, 1], [0]]);
    const batch = collate(packed, [0, 1]); // row 1 is right-padded
    const logits = model.forward(batch).data;
    const V = model.config.vocabSize;
    const T = a.ids.length + b.ids.length;
    const alone = (e: typeof a) => model.forward({ ids: e.ids, batch: 1 }).data;
    let diff = 0;
    const compare = (ref: Float32Array, at: number) => {
      for (let i = 0; i < ref.length; i++) diff = Math.max(diff, Math.abs(ref[i]! - logits[at * V + i]!));
    };
    compare(alone(a), 0);
    compare(alone(b), a.ids.length);
    compare(alone(a), T);
    expect(diff).toBeLessThan(1e-4);
    // The loss is the token-weighted mean of the examples' own losses, with and without checkpointing.
    const count = (e: typeof a) => e.labels.filter((l) => l !== IGNORE).length;
    const lossOf = (e: typeof a) => model.loss({ ids: e.ids, labels: e.labels, batch: 1 }).item();
    const expected = (2 * count(a) * lossOf(a) + count(b) * lossOf(b)) / (2 * count(a) + count(b));
    expect(model.loss(batch).item()).toBeCloseTo(expected, 5);
    expect(checkpointedLoss(model, batch, new Rng(1)).item()).toBeCloseTo(expected, 5);
    // Without the segments the second example reads the first: the check above can fail.
    const { segments: _, ...unsegmented } = batch;
    expect(model.loss(unsegmented).item()).not.toBeCloseTo(expected, 3);
  });

  it("splits and shuffles by seed, and caps micro-batches by sequences and padded tokens", async () => {
    const t = await resolveTemplate("alpaca", tok);
    const recs = Array.from({ length: 50 }, (_, i) => ({
      kind: "instruction" as const,
      instruction: `Count to ${i}.`,
      input: "",
      output: "x ".repeat(i % 7),
      where: `r${i}`,
    })).filter((r) => r.output);
    const { examples } = encodeRecords(tok, t, recs, { maxLength: 512 });
    const a = splitExamples(examples, 0.2, 1);
    expect(a.val.length).toBe(Math.round(0.2 * examples.length));
    expect(splitExamples(examples, 0.2, 1).val).toEqual(a.val);
    expect(splitExamples(examples, 0.2, 2).val).not.toEqual(a.val);
    const batches = epochBatches(examples, { batchSize: 4, maxTokens: 150 }, 0, 0);
    expect(batches.flat().sort((x, y) => x - y)).toEqual(examples.map((_, i) => i));
    for (const b of batches) {
      expect(b.length).toBeLessThanOrEqual(4);
      if (b.length > 1) expect(b.length * Math.max(...b.map((i) => examples[i]!.ids.length))).toBeLessThanOrEqual(150);
    }
    expect(epochBatches(examples, { batchSize: 4 }, 0, 1)).not.toEqual(epochBatches(examples, { batchSize: 4 }, 0, 0));
  });
});
