// The inference log: one JSON line per question asked (time, question, retrieved chunk ids and
// scores, prompt size, answer, latency per stage), appended to <dataDir>/logs/inference.jsonl.
import { appendFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { InfuseError } from "../../core/errors.js";

export interface InferenceLogEntry {
  time: string;
  collection: string;
  question: string;
  /** The question actually searched, when a chat follow-up was rewritten. */
  standalone?: string;
  mode: "generative" | "extractive";
  retriever: string;
  embedder: string;
  llm: string | null;
  retrieved: { chunk_id: string; source: string; score: number }[];
  prompt_chars: number;
  answer: string;
  latency_ms: Record<string, number>;
}

export function defaultLogFile(dataDir: string): string {
  return path.join(dataDir, "logs", "inference.jsonl");
}

export async function appendInferenceLog(file: string, entry: InferenceLogEntry): Promise<void> {
  try {
    await mkdir(path.dirname(file), { recursive: true });
    await appendFile(file, JSON.stringify(entry) + "\n");
  } catch (e) {
    throw new InfuseError("rag.log_unwritable", `cannot append to the inference log ${file}`, {
      kind: "io",
      hint: "check the permissions of the data folder (INFUSE_HOME), or turn the log off",
      cause: e,
    });
  }
}
