// What `infuse inspect` reports about a model: a GGUF file (header only, no tensor data read)
// or a Hugging Face folder (config.json, safetensors headers, tokenizer files).
import { existsSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { GGUF_KEYS, archKey } from "./gguf/keys.js";
import { openGguf } from "./gguf/reader.js";
import { ggmlTypeName } from "./gguf/types.js";
import { openSafetensors } from "./safetensors.js";

export interface TensorTypeSummary {
  type: string;
  tensors: number;
  parameters: number;
  bytes: number;
}

export interface ModelReport {
  path: string;
  format: "gguf" | "safetensors";
  /** GGUF `general.type` ("model", "adapter") where given. */
  fileType: string | undefined;
  architecture: string;
  name: string | undefined;
  parameters: number;
  contextLength: number | undefined;
  embeddingLength: number | undefined;
  blockCount: number | undefined;
  heads: number | undefined;
  kvHeads: number | undefined;
  tensorTypes: TensorTypeSummary[];
  tensorBytes: number;
  fileBytes: number;
  tokenizer: { kind: string | undefined; vocabSize: number | undefined; pre: string | undefined };
  chatTemplate: boolean;
  tensors?: { name: string; type: string; shape: number[]; bytes: number }[];
}

function summarize(rows: { type: string; count: number; bytes: number }[]): TensorTypeSummary[] {
  const by = new Map<string, TensorTypeSummary>();
  for (const r of rows) {
    const s = by.get(r.type) ?? { type: r.type, tensors: 0, parameters: 0, bytes: 0 };
    s.tensors++;
    s.parameters += r.count;
    s.bytes += r.bytes;
    by.set(r.type, s);
  }
  return [...by.values()].sort((a, b) => b.bytes - a.bytes);
}

const numOrUndef = (v: unknown) => (typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : undefined);

export async function inspectGguf(file: string, withTensors = false): Promise<ModelReport> {
  const g = await openGguf(file);
  g.close(); // the header is all we need
  const arch = g.architecture;
  const get = (k: string) => g.get(k);
  const tokens = get(GGUF_KEYS.tokens);
  const rows = g.tensors.map((t) => ({ type: ggmlTypeName(t.type), count: t.elementCount, bytes: t.byteSize }));
  return {
    path: file,
    format: "gguf",
    fileType: typeof get(GGUF_KEYS.type) === "string" ? (get(GGUF_KEYS.type) as string) : undefined,
    architecture: arch,
    name: typeof get(GGUF_KEYS.name) === "string" ? (get(GGUF_KEYS.name) as string) : undefined,
    parameters: rows.reduce((a, r) => a + r.count, 0),
    contextLength: numOrUndef(get(archKey(arch, "context_length"))),
    embeddingLength: numOrUndef(get(archKey(arch, "embedding_length"))),
    blockCount: numOrUndef(get(archKey(arch, "block_count"))),
    heads: numOrUndef(get(archKey(arch, "attention.head_count"))),
    kvHeads: numOrUndef(get(archKey(arch, "attention.head_count_kv"))),
    tensorTypes: summarize(rows),
    tensorBytes: rows.reduce((a, r) => a + r.bytes, 0),
    fileBytes: g.fileSize,
    tokenizer: {
      kind: typeof get(GGUF_KEYS.tokenizerModel) === "string" ? (get(GGUF_KEYS.tokenizerModel) as string) : undefined,
      vocabSize: Array.isArray(tokens) ? tokens.length : undefined,
      pre: typeof get(GGUF_KEYS.tokenizerPre) === "string" ? (get(GGUF_KEYS.tokenizerPre) as string) : undefined,
    },
    chatTemplate: typeof get(GGUF_KEYS.chatTemplate) === "string",
    ...(withTensors
      ? {
          tensors: g.tensors.map((t) => ({
            name: t.name,
            type: ggmlTypeName(t.type),
            shape: t.dims,
            bytes: t.byteSize,
          })),
        }
      : {}),
  };
}

async function json(file: string): Promise<Record<string, unknown> | undefined> {
  return existsSync(file) ? (JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>) : undefined;
}

export async function inspectHfFolder(dir: string, files: string[], withTensors = false): Promise<ModelReport> {
  const cfg = (await json(path.join(dir, "config.json"))) ?? {};
  const tok = await json(path.join(dir, "tokenizer.json"));
  const tokCfg = (await json(path.join(dir, "tokenizer_config.json"))) ?? {};
  const rows: { name: string; type: string; count: number; bytes: number; shape: number[] }[] = [];
  let fileBytes = 0;
  for (const f of files.filter((x) => x.endsWith(".safetensors"))) {
    const st = await openSafetensors(path.join(dir, f));
    st.close();
    fileBytes += statSync(path.join(dir, f)).size;
    for (const t of st.tensors)
      rows.push({ name: t.name, type: t.dtype, count: t.elementCount, bytes: t.byteSize, shape: t.shape });
  }
  const model = tok?.["model"] as { type?: string; vocab?: Record<string, number> | unknown[] } | undefined;
  const ids = new Set<number>(
    Array.isArray(model?.vocab) ? model.vocab.map((_, i) => i) : Object.values(model?.vocab ?? {}),
  );
  for (const a of (tok?.["added_tokens"] as { id: number }[] | undefined) ?? []) ids.add(a.id);
  return {
    path: dir,
    format: "safetensors",
    fileType: undefined,
    architecture: String(cfg["model_type"] ?? (cfg["architectures"] as string[] | undefined)?.[0] ?? "unknown"),
    name: path.basename(dir),
    parameters: rows.reduce((a, r) => a + r.count, 0),
    contextLength: numOrUndef(cfg["max_position_embeddings"]),
    embeddingLength: numOrUndef(cfg["hidden_size"]),
    blockCount: numOrUndef(cfg["num_hidden_layers"]),
    heads: numOrUndef(cfg["num_attention_heads"]),
    kvHeads: numOrUndef(cfg["num_key_value_heads"]),
    tensorTypes: summarize(rows),
    tensorBytes: rows.reduce((a, r) => a + r.bytes, 0),
    fileBytes,
    tokenizer: {
      kind: model?.type ?? (files.includes("tokenizer.model") ? "sentencepiece" : undefined),
      vocabSize: ids.size > 0 ? ids.size : numOrUndef(cfg["vocab_size"]),
      pre: undefined,
    },
    chatTemplate: typeof tokCfg["chat_template"] === "string",
    ...(withTensors
      ? { tensors: rows.map((r) => ({ name: r.name, type: r.type, shape: r.shape, bytes: r.bytes })) }
      : {}),
  };
}
