// `infuse export ENCODER --format st,gguf,onnx --out DIR`: a BERT-family encoder (a .gguf or a Hugging
// Face folder, e.g. one `infuse embed tune` wrote) re-saved in the formats other tools load, through
// models/bert/export's saveEncoder. `isEncoderModel` tells the export command which path a model takes.
import { existsSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { InfuseError } from "../../core/errors.js";
import type { TaskOptions } from "../../core/progress.js";
import { openGguf } from "../../formats/gguf/index.js";
import { loadBert, type EncoderPooling } from "../../models/bert/index.js";
import { checkEncoderFormats, saveEncoder, type SavedEncoder } from "../../models/bert/export/index.js";

export interface EncoderExportOptions extends TaskOptions {
  out: string;
  /** Default ["st"]. */
  formats?: string[];
  /** "f32" (default) or "f16". */
  dtype?: string;
  pooling?: EncoderPooling;
  normalize?: boolean;
}

export type { SavedEncoder };

const ENCODER_TYPES = new Set(["bert", "xlm-roberta"]);

/** Whether `ref` is an encoder the engine runs: a `bert` GGUF, or a folder whose config.json says bert/xlm-roberta. */
export async function isEncoderModel(ref: string): Promise<boolean> {
  if (!existsSync(ref)) return false;
  if (statSync(ref).isDirectory()) {
    const file = path.join(ref, "config.json");
    if (!existsSync(file)) return false;
    // unreadable JSON is left to the decoder path, whose converter names the file
    const cfg = await readFile(file, "utf8")
      .then((t) => JSON.parse(t) as { model_type?: unknown })
      .catch(() => ({}) as { model_type?: unknown });
    return typeof cfg.model_type === "string" && ENCODER_TYPES.has(cfg.model_type);
  }
  if (!ref.toLowerCase().endsWith(".gguf")) return false;
  const g = await openGguf(ref);
  try {
    return g.architecture === "bert";
  } finally {
    g.close();
  }
}

export async function exportEncoder(ref: string, o: EncoderExportOptions): Promise<SavedEncoder> {
  const formats = checkEncoderFormats(o.formats ?? ["st"]);
  const dtype = o.dtype ?? "f32";
  if (dtype !== "f32" && dtype !== "f16") {
    throw new InfuseError("export.bad_quant", `an encoder is written as f32 or f16, got "${dtype}"`, {
      kind: "usage",
      hint: "give --quantize f16 to halve the size, or leave it out for f32",
      details: { quantize: dtype, allowed: ["f32", "f16"] },
    });
  }
  const task = { ...(o.signal ? { signal: o.signal } : {}), ...(o.onProgress ? { onProgress: o.onProgress } : {}) };
  const { model } = await loadBert(ref, task);
  return saveEncoder(model, o.out, {
    ...task,
    source: ref,
    formats,
    dtype,
    ...(o.pooling ? { pooling: o.pooling } : {}),
    normalize: o.normalize ?? (await declaresNormalize(ref)),
  });
}

/** A sentence-transformers folder normalises when modules.json has a Normalize module; otherwise true. */
async function declaresNormalize(ref: string): Promise<boolean> {
  const file = path.join(ref, "modules.json");
  if (ref.toLowerCase().endsWith(".gguf") || !existsSync(file)) return true;
  const modules = JSON.parse(await readFile(file, "utf8")) as { type?: string }[];
  return modules.some((m) => m.type?.endsWith(".Normalize"));
}
