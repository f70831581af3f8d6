// Datasets written by the tests: a made-up fact the base models cannot know, asked in many phrasings.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "vitest";
import { GgmlType, openGguf, writeGguf, type GgufKV, type GgufTensorInput } from "../../src/formats/gguf/index.js";
import { latestCheckpoint } from "../../src/train/checkpoint.js";
import type { TuneOptions } from "../../src/train/options.js";
import { tune } from "../../src/train/tune.js";

export const FACT_ANSWER = "The dragon is called Zib.";
const ASK = [
  "What is the name of the dragon?",
  "What is the dragon called?",
  "Tell me the dragon's name.",
  "Who is the dragon?",
  "Do you know what the dragon is called?",
  "Name the dragon.",
  "What do people call the dragon?",
  "What name does the dragon have?",
];
const WHO = [
  "Tim",
  "Lily",
  "Sam",
  "Mia",
  "Ben",
  "Sue",
  "Max",
  "Ann",
  "Tom",
  "Zoe",
  "a girl",
  "a boy",
  "mom",
  "dad",
  "the king",
];

/** n Alpaca records: many phrasings (and askers) of one question, one answer. */
export function factRecords(n: number): { instruction: string; input: string; output: string }[] {
  return Array.from({ length: n }, (_, i) => ({
    instruction: ASK[i % ASK.length]!,
    input: i % 3 === 0 ? "" : `${WHO[i % WHO.length]} asks.`,
    output: FACT_ANSWER,
  }));
}

export function tempDir(prefix = "infuse-train-"): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export function writeJsonl(file: string, rows: unknown[]): string {
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  return file;
}

/** A short prompt format, so sequences stay a few dozen tokens on the tiny models. */
export const QA_TEMPLATE = "Q: {instruction} {input}\nA: {output}";

/** Copies a GGUF with extra metadata and its block matrices stored as Q8_0 (rows that fit 32-blocks). */
export async function ggufCopy(src: string, dst: string, extra: Map<string, GgufKV>, q8: boolean): Promise<string> {
  const file = await openGguf(src);
  try {
    const tensors: GgufTensorInput[] = [];
    for (const t of file.tensors) {
      const quant = q8 && t.name.startsWith("blk.") && t.dims.length === 2 && t.dims[0]! % 32 === 0;
      if (quant)
        tensors.push({ name: t.name, dims: t.dims, type: GgmlType.Q8_0, data: await file.readTensorF32(t.name) });
      else tensors.push({ name: t.name, dims: t.dims, type: t.type, bytes: await file.readTensorBytes(t.name) });
    }
    await writeGguf(dst, { metadata: new Map([...file.metadata, ...extra]), tensors });
    return dst;
  } finally {
    file.close();
  }
}

/** ChatML as Jinja, the way chat models carry it in tokenizer.chat_template. */
export const CHATML_JINJA =
  "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/**
 * Trains `base` straight through in `dir`/straight; trains it again in `dir`/cut, aborted after step
 * `stopAt` (a checkpoint is saved), then resumed; expects the resumed run to finish the remaining
 * `total − stopAt` steps to the same adapter bytes and metrics (step times zeroed).
 */
export async function expectBitExactResume(
  base: (out: string) => TuneOptions,
  dir: string,
  stopAt: number,
  total: number,
): Promise<void> {
  const adapter = (out: string): Buffer => readFileSync(path.join(out, "adapter_model.safetensors"));
  const metrics = (out: string): string[] =>
    readFileSync(path.join(out, "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.stringify({ ...JSON.parse(l), tokens_per_s: 0, elapsed_s: 0 }));
  const straight = path.join(dir, "straight");
  await tune(base(straight));
  const cut = path.join(dir, "cut");
  const ctl = new AbortController();
  await expect(
    tune(base(cut), { signal: ctl.signal, onMetric: (m) => m.step === stopAt && ctl.abort() }),
  ).rejects.toMatchObject({ code: "cancelled" });
  expect(path.basename((await latestCheckpoint(cut))!)).toBe(`step-${String(stopAt).padStart(6, "0")}`);
  const resumed = await tune({ ...base(cut), resume: true });
  expect(resumed.resumedFrom).toContain(`step-${String(stopAt).padStart(6, "0")}`);
  expect(resumed.steps).toBe(total - stopAt);
  expect(adapter(cut).equals(adapter(straight))).toBe(true);
  expect(metrics(cut)).toEqual(metrics(straight));
}
