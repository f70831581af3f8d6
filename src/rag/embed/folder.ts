// Which backend embeds with a model folder, from the files in it: an ONNX export → transformers.js;
// a BERT-family safetensors folder (a Hugging Face or sentence-transformers save, such as
// `infuse embed tune`'s output) → infuse's own encoder; one .gguf → llama.cpp. A folder that is none
// of these fails naming what each would need. Also the query/passage prompts a sentence-transformers
// folder declares (config_sentence_transformers.json), used as default prefixes.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { InfuseError } from "../../core/errors.js";

export type FolderBackend = { kind: "onnx" } | { kind: "engine" } | { kind: "gguf"; file: string };

/** Hugging Face model types infuse's encoder runs (models/bert). */
const ENCODER_TYPES = new Set(["bert", "xlm-roberta"]);

async function readJson(file: string): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** `files`: the folder's files, relative with POSIX separators (as hub/resolve lists them). */
export async function folderBackend(ref: string, folder: string, files: string[]): Promise<FolderBackend> {
  if (files.some((f) => f.endsWith(".onnx"))) return { kind: "onnx" };
  const config = files.includes("config.json") ? await readJson(path.join(folder, "config.json")) : undefined;
  const modelType = typeof config?.["model_type"] === "string" ? config["model_type"] : undefined;
  const weights = files.some((f) => /^[^/]+\.safetensors$/.test(f));
  if (modelType !== undefined && ENCODER_TYPES.has(modelType) && weights) return { kind: "engine" };
  const ggufs = files.filter((f) => f.toLowerCase().endsWith(".gguf"));
  if (ggufs.length === 1) return { kind: "gguf", file: path.join(folder, ggufs[0]!) };
  if (ggufs.length > 1) {
    throw new InfuseError("embed.several_gguf", `${ref} holds several GGUF files`, {
      kind: "usage",
      hint: `name one of them: ${ggufs.join(", ")}`,
    });
  }
  const missing = ["no onnx/model.onnx (a transformers.js export)"];
  if (!config) missing.push(weights ? "model.safetensors but no config.json" : "no config.json and model.safetensors");
  else if (modelType === undefined) missing.push("config.json has no model_type");
  else if (!ENCODER_TYPES.has(modelType))
    missing.push(`config.json's model_type "${modelType}" is not bert or xlm-roberta`);
  else missing.push(`config.json names a ${modelType} encoder but there is no model.safetensors`);
  missing.push("no .gguf file");
  throw new InfuseError(
    "embed.unrecognised_folder",
    `${ref} is not an embedding model infuse can load: ${missing.join("; ")}`,
    {
      kind: "input",
      hint:
        "give a transformers.js export (config.json, tokenizer.json, onnx/model.onnx), a BERT-family folder " +
        "(config.json, model.safetensors, tokenizer.json or vocab.txt; what `infuse embed tune` and `infuse export` write), or a .gguf",
      details: { folder, files },
    },
  );
}

/** The prompts of a sentence-transformers folder (config_sentence_transformers.json): query and passage/document. */
export async function folderPrompts(folder: string): Promise<{ query?: string; passage?: string }> {
  const file = path.join(folder, "config_sentence_transformers.json");
  if (!existsSync(file)) return {};
  const prompts = (await readJson(file))?.["prompts"];
  if (!prompts || typeof prompts !== "object") return {};
  const p = prompts as Record<string, unknown>;
  const pick = (...keys: string[]) => keys.map((k) => p[k]).find((v): v is string => typeof v === "string" && v !== "");
  const query = pick("query");
  const passage = pick("passage", "document");
  return { ...(query !== undefined ? { query } : {}), ...(passage !== undefined ? { passage } : {}) };
}
