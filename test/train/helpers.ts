// Datasets written by the tests: a made-up fact the base models cannot know, asked in many phrasings.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

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
