// Opens a Llama-family model from a GGUF file or a Hugging Face folder (config.json, *.safetensors,
// tokenizer.json): config, weights and tokenizer. Hub references are resolved by hub/ first.
import { existsSync } from "node:fs";
import path from "node:path";
import type { ResolvedConfig } from "../../core/config.js";
import { InfuseError } from "../../core/errors.js";
import type { TaskOptions } from "../../core/progress.js";
import { openGguf } from "../../formats/gguf/index.js";
import { resolveLocalModel, resolveModel, type ResolvedModel } from "../../hub/resolve.js";
import { QuantTensor, type QuantType, type Tensor } from "../../tensor/index.js";
import { loadHfTokenizer } from "../../tokenizers/hf.js";
import { tokenizerFromGgufMetadata } from "../../tokenizers/gguf-tokenizer.js";
import type { Tokenizer } from "../../tokenizers/types.js";
import { configFromGguf, configFromHf, readHfConfig } from "./config.js";
import { LlamaModel } from "./model.js";
import { ggufSource, loadWeights, safetensorsSource, type WeightMode } from "./weights.js";

export interface LoadLlamaOptions extends TaskOptions {
  /** "native" (default) keeps quantized matrices as stored; "f32" dequantizes everything. */
  weights?: WeightMode;
  /** Quantize the attention/FFN matrices to this type as they load (QLoRA base). */
  quantize?: QuantType;
  /** Needed only for hub references (cache folder, endpoint). */
  config?: Pick<ResolvedConfig, "cacheDir" | "hub">;
}

export interface LoadedLlama {
  model: LlamaModel;
  tokenizer: Tokenizer;
  /** The file or folder the weights came from. */
  path: string;
  /** Storage type of the attention/FFN matrices (f32, q8_0, q4_0, …). */
  dtype: string;
}

/** Loads a GGUF file (path) directly. */
export async function loadLlamaGguf(file: string, options: LoadLlamaOptions = {}): Promise<LoadedLlama> {
  const gguf = await openGguf(file, options);
  try {
    const freqs = gguf.tensor("rope_freqs.weight") ? await gguf.readTensorF32("rope_freqs.weight", options) : undefined;
    const config = configFromGguf((key) => gguf.get(key), file, freqs);
    const weights = await loadWeights(config, ggufSource(gguf, options), options.weights ?? "native", file, options);
    const tokenizer = tokenizerFromGgufMetadata(gguf.metadata, file);
    return {
      model: new LlamaModel(config, weights),
      tokenizer,
      path: file,
      dtype: dtypeOf(weights.layers[0]?.q.weight),
    };
  } finally {
    gguf.close();
  }
}

/** Loads a Hugging Face folder with config.json, safetensors weights and tokenizer.json. */
export async function loadLlamaFolder(dir: string, options: LoadLlamaOptions = {}): Promise<LoadedLlama> {
  const configFile = path.join(dir, "config.json");
  if (!existsSync(configFile)) {
    throw new InfuseError("model.no_config", `${dir}: no config.json`, {
      kind: "input",
      hint: "a Hugging Face model folder holds config.json, *.safetensors and tokenizer.json",
    });
  }
  const config = configFromHf(await readHfConfig(configFile), configFile);
  const source = await safetensorsSource(dir, options);
  try {
    const weights = await loadWeights(config, source.tensors, "f32", dir, options);
    const tokenizer = await loadHfTokenizer(dir);
    return { model: new LlamaModel(config, weights), tokenizer, path: dir, dtype: "f32" };
  } finally {
    source.close();
  }
}

/** A local .gguf, a model folder, or hf:owner/repo[/file] (which needs `config`). */
export async function loadLlama(ref: string, options: LoadLlamaOptions = {}): Promise<LoadedLlama> {
  let resolved: ResolvedModel;
  if (options.config) {
    const { signal, onProgress } = options;
    resolved = await resolveModel(ref, {
      config: options.config,
      ...(signal ? { signal } : {}),
      ...(onProgress ? { onProgress } : {}),
    });
  } else resolved = await resolveLocalModel(ref);
  const loaded = await (resolved.kind === "gguf"
    ? loadLlamaGguf(resolved.path, options)
    : loadLlamaFolder(resolved.path, options));
  // Training runs synchronously from here, inside the callback scope of the last file read, whose
  // handles keep that read's buffer alive: stories15M's f32 output matrix (35 MiB) stayed resident
  // after QLoRA had quantized it. One turn of the event loop lets that scope close.
  await new Promise<void>((resolve) => setImmediate(resolve));
  return loaded;
}

function dtypeOf(w: Tensor | QuantTensor | undefined): string {
  return w instanceof QuantTensor ? w.type : "f32";
}
