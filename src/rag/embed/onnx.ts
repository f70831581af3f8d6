// Sentence embeddings from an ONNX model folder (a transformers.js / optimum export: config.json,
// tokenizer.json, onnx/model*.onnx) through @huggingface/transformers, with mean or CLS pooling.
// Leaves out sentence-transformers Dense/Normalize modules after pooling (2_Dense is not applied).
import { readFile } from "node:fs/promises";
import path from "node:path";
import { env, pipeline, type FeatureExtractionPipeline } from "@huggingface/transformers";
import { cancelledError, InfuseError } from "../../core/errors.js";
import type { EmbedBackend, Pooling } from "./embedder.js";

export interface OnnxEmbedOptions {
  /** Overrides the folder's `1_Pooling/config.json` and the family preset. */
  pooling?: Pooling;
  presetPooling?: Pooling;
  batchSize?: number;
  signal?: AbortSignal;
}

/** ONNX files in the order we prefer them: full precision first, then the common quantisations. */
const ONNX_PREFERENCE = [
  "model.onnx",
  "model_quantized.onnx",
  "model_int8.onnx",
  "model_uint8.onnx",
  "model_fp16.onnx",
];

/** The ONNX file to load among a folder's files (relative paths), or undefined if there is none. */
export function pickOnnxFile(files: string[]): string | undefined {
  const onnx = files.filter((f) => f.endsWith(".onnx"));
  for (const dir of ["onnx/", ""]) {
    for (const name of ONNX_PREFERENCE) if (onnx.includes(dir + name)) return dir + name;
  }
  return onnx.length === 1 ? onnx[0] : undefined;
}

export class OnnxEmbedBackend implements EmbedBackend {
  readonly batchSize: number;

  private constructor(
    readonly id: string,
    readonly pooling: Pooling,
    private readonly extractor: FeatureExtractionPipeline,
    private readonly hidden: number | undefined,
    batchSize: number,
  ) {
    this.batchSize = batchSize;
  }

  static async load(
    ref: string,
    folder: string,
    files: string[],
    options: OnnxEmbedOptions = {},
  ): Promise<OnnxEmbedBackend> {
    const file = pickOnnxFile(files);
    if (!file) {
      throw new InfuseError(
        "embed.no_onnx",
        `${ref} has no ONNX model (looked for onnx/model.onnx and its quantised variants)`,
        {
          kind: "input",
          hint: "use a transformers.js-ready export (e.g. a Xenova/… or onnx-community/… repo), export one with optimum, or use a .gguf embedding model",
          details: { folder, files },
        },
      );
    }
    const pooling = options.pooling ?? (await stPooling(folder)) ?? options.presetPooling ?? "mean";
    const config = await readJsonFile(path.join(folder, "config.json"));
    const hidden = typeof config?.["hidden_size"] === "number" ? config["hidden_size"] : undefined;
    // models come from local folders only; the hub module downloads, never transformers.js
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    const subfolder = path.posix.dirname(file) === "." ? "" : path.posix.dirname(file);
    const name = path.posix.basename(file, ".onnx");
    let extractor: FeatureExtractionPipeline;
    try {
      extractor = await pipeline("feature-extraction", folder, {
        local_files_only: true,
        dtype: "fp32",
        subfolder,
        model_file_name: name,
        ...(files.includes(`${file}_data`) ? { use_external_data_format: true } : {}),
      });
    } catch (e) {
      if (options.signal?.aborted) throw cancelledError(`loading ${ref}`, e);
      throw new InfuseError(
        "embed.model_load_failed",
        `cannot load the ONNX embedding model ${ref}: ${(e as Error).message}`,
        {
          kind: "input",
          hint: "the folder needs config.json, tokenizer.json (or vocab files) and an ONNX encoder with a last_hidden_state output",
          cause: e,
          details: { folder, file },
        },
      );
    }
    return new OnnxEmbedBackend(`onnx:${ref}`, pooling, extractor, hidden, options.batchSize ?? 32);
  }

  knownDimension(): number | undefined {
    return this.hidden;
  }

  countTokens(text: string): number {
    return this.extractor.tokenizer.encode(text, { add_special_tokens: false }).length;
  }

  async embedBatch(texts: string[]): Promise<Float32Array[]> {
    const out = await this.extractor(texts, { pooling: this.pooling, normalize: false });
    const [rows, dim] = out.dims as [number, number];
    const data = out.data as Float32Array;
    return Array.from({ length: rows }, (_, i) => data.slice(i * dim, (i + 1) * dim));
  }

  async dispose(): Promise<void> {
    await this.extractor.dispose();
  }
}

/** The pooling a sentence-transformers folder declares in 1_Pooling/config.json, if mean or CLS. */
async function stPooling(folder: string): Promise<Pooling | undefined> {
  const config = await readJsonFile(path.join(folder, "1_Pooling", "config.json"));
  if (config?.["pooling_mode_cls_token"] === true) return "cls";
  if (config?.["pooling_mode_mean_tokens"] === true) return "mean";
  return undefined;
}

async function readJsonFile(file: string): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
