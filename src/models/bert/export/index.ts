// Saves a (tuned) BERT-family encoder in the formats other tools load, from one call:
//   "st"   a sentence-transformers folder (st.ts) that our loader, sentence-transformers and HF read;
//   "gguf" <dir>/<name>.gguf that llama.cpp (node-llama-cpp, Ollama) embeds with (gguf.ts);
//   "onnx" <dir>/onnx/model.onnx beside config.json + tokenizer.json: a transformers.js folder (onnx.ts).
// The tokenizer comes from the file or folder the model was loaded from (vocab.ts).
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { InfuseError, throwIfAborted } from "../../../core/errors.js";
import type { TaskOptions } from "../../../core/progress.js";
import type { EncoderPooling } from "../config.js";
import type { BertModel } from "../model.js";
import { writeEncoderGguf } from "./gguf.js";
import { encoderOnnx } from "./onnx.js";
import { hfEncoderConfig, sourceConfig, writePoolingConfig, writeStFolder } from "./st.js";
import { readEncoderVocab, writeTokenizerFiles } from "./vocab.js";
import { encoderWeights } from "./weights.js";

export const ENCODER_FORMATS = ["st", "gguf", "onnx"] as const;
export type EncoderFormat = (typeof ENCODER_FORMATS)[number];

export interface SaveEncoderOptions extends TaskOptions {
  /** The .gguf file or Hugging Face folder the model was loaded from: its tokenizer is saved with it. */
  source: string;
  /** Default ["st"]. */
  formats?: readonly EncoderFormat[];
  /** Default the model's own (config.pooling), else mean. */
  pooling?: EncoderPooling;
  /** Whether users should L2-normalise the vectors (sentence-transformers' Normalize module); default true. */
  normalize?: boolean;
  /** Weight type of 2-D tensors in safetensors and GGUF (ONNX stays f32); default f32. */
  dtype?: "f32" | "f16";
  /** Query/passage instructions, kept in config_sentence_transformers.json's prompts. */
  prompts?: { query?: string; passage?: string };
  /** The GGUF file's name without .gguf and its general.name; default "model". */
  name?: string;
}

export interface SavedEncoder {
  dir: string;
  /** What was written per format: the folder (st), the .gguf file, the .onnx file. */
  st?: string;
  gguf?: string;
  onnx?: string;
  pooling: EncoderPooling;
  normalize: boolean;
  dtype: "f32" | "f16";
}

export function checkEncoderFormats(formats: readonly string[]): EncoderFormat[] {
  const bad = formats.filter((f) => !(ENCODER_FORMATS as readonly string[]).includes(f));
  if (bad.length > 0 || formats.length === 0) {
    throw new InfuseError("export.bad_format", `encoder formats must be among ${ENCODER_FORMATS.join(", ")}`, {
      kind: "usage",
      hint: "st: sentence-transformers folder; gguf: llama.cpp file; onnx: transformers.js onnx/model.onnx",
      details: { formats: [...formats], allowed: [...ENCODER_FORMATS] },
    });
  }
  return [...new Set(formats)] as EncoderFormat[];
}

/** Writes `model` into `outDir` in each of `formats`. */
export async function saveEncoder(model: BertModel, outDir: string, o: SaveEncoderOptions): Promise<SavedEncoder> {
  const formats = checkEncoderFormats(o.formats ?? ["st"]);
  const pooling = o.pooling ?? model.config.pooling ?? "mean";
  const normalize = o.normalize ?? true;
  const dtype = o.dtype ?? "f32";
  const task = { ...(o.signal ? { signal: o.signal } : {}), ...(o.onProgress ? { onProgress: o.onProgress } : {}) };
  await mkdir(outDir, { recursive: true });
  const vocab = await readEncoderVocab(o.source);
  const base = await sourceConfig(o.source);
  const weights = encoderWeights(model);
  const out: SavedEncoder = { dir: outDir, pooling, normalize, dtype };
  for (const [i, format] of formats.entries()) {
    throwIfAborted(o.signal, `save encoder to ${outDir}`);
    o.onProgress?.({ task: "save encoder", done: i, total: formats.length, unit: "formats", note: format });
    if (format === "st") {
      await writeStFolder(model, weights, outDir, {
        ...task,
        pooling,
        normalize,
        dtype,
        vocab,
        ...(base ? { sourceConfig: base } : {}),
        ...(o.prompts ? { prompts: o.prompts } : {}),
      });
      out.st = outDir;
    } else if (format === "gguf") {
      const name = o.name ?? "model";
      const file = path.join(outDir, `${name}.gguf`);
      await writeEncoderGguf(model, weights, file, { ...task, pooling, dtype, vocab, name });
      out.gguf = file;
    } else {
      // transformers.js reads config.json and tokenizer.json beside onnx/: write them when "st" did not
      if (!formats.includes("st")) {
        const typeRows = model.weights.tokenTypes?.shape[0] ?? 1;
        await writeFile(
          path.join(outDir, "config.json"),
          JSON.stringify(hfEncoderConfig(model, typeRows, base), null, 2),
        );
        await writeTokenizerFiles(vocab, outDir, model.config.maxTokens);
        await writePoolingConfig(outDir, model.config.dim, pooling);
      }
      await mkdir(path.join(outDir, "onnx"), { recursive: true });
      const file = path.join(outDir, "onnx", "model.onnx");
      await writeFile(file, encoderOnnx(model, weights));
      out.onnx = file;
    }
  }
  o.onProgress?.({ task: "save encoder", done: formats.length, total: formats.length, unit: "formats" });
  return out;
}
