// Converts a Hugging Face model folder (config.json, *.safetensors, tokenizer files) into a GGUF
// llama.cpp loads: hparams → metadata, names mapped, Q/K permuted for llama, tokenizer embedded.
// Leaves out PyTorch .bin checkpoints and k-quant output types.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { InfuseError, throwIfAborted } from "../../core/errors.js";
import type { TaskOptions } from "../../core/progress.js";
import { GGUF_KEYS, archKey } from "../gguf/keys.js";
import { kv } from "../gguf/kv.js";
import { GgmlType, QK, type GgufKV } from "../gguf/types.js";
import { writeGguf, type GgufTensorInput } from "../gguf/writer.js";
import { MODEL_TYPES, hfToGgufName } from "../hf/names.js";
import { permuteQK } from "../hf/permute.js";
import { llama3FreqFactors, ropeScalingFromHf, type RopeScaling } from "../hf/rope-scaling.js";
import { openSafetensors, type SafetensorsFile } from "../safetensors.js";
import { ggufVocabFromSentencePiece, ggufVocabFromTokenizerJson } from "./vocab.js";

/** Tensors llama.cpp adds to activations (not matmuls): its CPU add needs them F32. */
const ADDED_NOT_MULTIPLIED = /^(position_embd|token_types)\./;

export type OutputType = "F32" | "F16" | "Q8_0" | "Q4_0";

const OUTPUT_TYPES: Record<OutputType, { type: GgmlType; fileType: number }> = {
  F32: { type: GgmlType.F32, fileType: 0 },
  F16: { type: GgmlType.F16, fileType: 1 },
  Q4_0: { type: GgmlType.Q4_0, fileType: 2 },
  Q8_0: { type: GgmlType.Q8_0, fileType: 7 },
};

export interface ConvertOptions extends TaskOptions {
  /** Type of the 2-D weights; norms and biases stay F32. Default F16. */
  outType?: OutputType;
  /** general.name; default the folder name. */
  name?: string;
}

export interface ConvertResult {
  path: string;
  architecture: string;
  tensors: number;
  parameters: number;
}

type HfConfig = Record<string, unknown>;

async function readJson<T>(file: string): Promise<T> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as T;
  } catch (e) {
    throw new InfuseError("convert.bad_json", `${file}: cannot read JSON (${(e as Error).message})`, {
      kind: existsSync(file) ? "input" : "not_found",
      cause: e,
    });
  }
}

function num(cfg: HfConfig, key: string, file: string, fallback?: number): number {
  const v = cfg[key];
  if (typeof v === "number") return v;
  if (fallback !== undefined) return fallback;
  throw new InfuseError("convert.missing_hparam", `${file}: config.json has no numeric ${key}`, { kind: "input" });
}

function hparams(cfg: HfConfig, arch: string, file: string): Map<string, GgufKV> {
  const k = (key: Parameters<typeof archKey>[1]) => archKey(arch, key);
  const heads = num(cfg, "num_attention_heads", file);
  const hidden = num(cfg, "hidden_size", file);
  const md = new Map<string, GgufKV>([
    [k("context_length"), kv.u32(num(cfg, "max_position_embeddings", file))],
    [k("embedding_length"), kv.u32(hidden)],
    [k("block_count"), kv.u32(num(cfg, "num_hidden_layers", file))],
    [k("feed_forward_length"), kv.u32(num(cfg, "intermediate_size", file))],
    [k("attention.head_count"), kv.u32(heads)],
  ]);
  if (arch === "bert") {
    md.set(k("attention.layer_norm_epsilon"), kv.f32(num(cfg, "layer_norm_eps", file, 1e-12)));
    md.set(k("attention.causal"), kv.bool(false));
    md.set(k("pooling_type"), kv.u32(1)); // mean, as sentence-transformers models pool
    md.set(GGUF_KEYS.tokenTypeCount, kv.u32(num(cfg, "type_vocab_size", file, 2)));
  } else {
    md.set(k("attention.head_count_kv"), kv.u32(num(cfg, "num_key_value_heads", file, heads)));
    md.set(k("attention.layer_norm_rms_epsilon"), kv.f32(num(cfg, "rms_norm_eps", file, 1e-6)));
    md.set(k("rope.freq_base"), kv.f32(num(cfg, "rope_theta", file, 10000)));
    md.set(k("rope.dimension_count"), kv.u32(num(cfg, "head_dim", file, hidden / heads)));
    for (const [key, value] of ropeScalingKeys(ropeScalingFromHf(cfg, file))) md.set(k(key), value);
  }
  md.set(k("vocab_size"), kv.u32(num(cfg, "vocab_size", file)));
  return md;
}

/** llama.cpp's rope.scaling.* keys for linear and YaRN scaling (llama3 is a tensor, rope_freqs.weight). */
function ropeScalingKeys(s: RopeScaling): [Parameters<typeof archKey>[1], GgufKV][] {
  if (s.type === "linear")
    return [
      ["rope.scaling.type", kv.str("linear")],
      ["rope.scaling.factor", kv.f32(s.factor)],
    ];
  if (s.type !== "yarn") return [];
  const keys: [Parameters<typeof archKey>[1], GgufKV][] = [
    ["rope.scaling.type", kv.str("yarn")],
    ["rope.scaling.factor", kv.f32(s.factor)],
    ["rope.scaling.original_context_length", kv.u32(s.originalContextLength)],
  ];
  if (s.attnFactor !== 1) keys.push(["rope.scaling.attn_factor", kv.f32(s.attnFactor)]);
  // llama.cpp reads neither yet (it uses 32 and 1); written when they differ so our reader keeps them.
  if (s.betaFast !== 32) keys.push(["rope.scaling.yarn_beta_fast", kv.f32(s.betaFast)]);
  if (s.betaSlow !== 1) keys.push(["rope.scaling.yarn_beta_slow", kv.f32(s.betaSlow)]);
  return keys;
}

/** llama3 scaling as llama.cpp stores it: per-frequency divisors in rope_freqs.weight (D/2, F32). */
function ropeFreqsTensor(cfg: HfConfig, file: string): GgufTensorInput | undefined {
  const s = ropeScalingFromHf(cfg, file);
  if (s.type !== "llama3") return undefined;
  const heads = num(cfg, "num_attention_heads", file);
  const headDim = num(cfg, "head_dim", file, num(cfg, "hidden_size", file) / heads);
  const base = num(cfg, "rope_theta", file, 10000);
  const data = llama3FreqFactors(s, headDim, base);
  return { name: "rope_freqs.weight", dims: [data.length], type: GgmlType.F32, data };
}

async function tokenizerMetadata(dir: string): Promise<Map<string, GgufKV>> {
  const configFile = path.join(dir, "tokenizer_config.json");
  const config = existsSync(configFile) ? await readJson<Record<string, unknown>>(configFile) : {};
  const jsonFile = path.join(dir, "tokenizer.json");
  if (existsSync(jsonFile))
    // llama.cpp aborts on text its byte-fallback vocabulary cannot place; add the byte tokens.
    return ggufVocabFromTokenizerJson(await readJson(jsonFile), config as never, {
      file: jsonFile,
      addMissingByteTokens: true,
    });
  const spFile = path.join(dir, "tokenizer.model");
  if (existsSync(spFile)) {
    const md = ggufVocabFromSentencePiece(await readFile(spFile), spFile);
    if (typeof config["chat_template"] === "string") md.set(GGUF_KEYS.chatTemplate, kv.str(config["chat_template"]));
    return md;
  }
  throw new InfuseError("convert.no_tokenizer", `${dir}: no tokenizer.json or tokenizer.model`, {
    kind: "input",
    hint: "copy the model's tokenizer files into the folder",
  });
}

async function openShards(dir: string): Promise<SafetensorsFile[]> {
  const index = path.join(dir, "model.safetensors.index.json");
  if (existsSync(index)) {
    const { weight_map } = await readJson<{ weight_map: Record<string, string> }>(index);
    return Promise.all([...new Set(Object.values(weight_map))].map((f) => openSafetensors(path.join(dir, f))));
  }
  return [await openSafetensors(path.join(dir, "model.safetensors"))];
}

/** Converts the HF model in `dir` to a GGUF at `outPath`. */
export async function convertHfToGguf(
  dir: string,
  outPath: string,
  options: ConvertOptions = {},
): Promise<ConvertResult> {
  const configFile = path.join(dir, "config.json");
  const cfg = await readJson<HfConfig>(configFile);
  const modelType = String(cfg["model_type"]);
  const spec = MODEL_TYPES[modelType];
  if (!spec) {
    throw new InfuseError("convert.unsupported_model", `${configFile}: model_type ${modelType} is not supported`, {
      kind: "input",
      hint: `supported: ${Object.keys(MODEL_TYPES).join(", ")}`,
    });
  }
  const out = OUTPUT_TYPES[options.outType ?? "F16"];
  const metadata = new Map<string, GgufKV>([
    [GGUF_KEYS.architecture, kv.str(spec.arch)],
    [GGUF_KEYS.name, kv.str(options.name ?? path.basename(path.resolve(dir)))],
    [GGUF_KEYS.fileType, kv.u32(out.fileType)],
    ...hparams(cfg, spec.arch, configFile),
    ...(await tokenizerMetadata(dir)),
  ]);
  const vocab = metadata.get(GGUF_KEYS.tokens)!.value as string[];
  const unkKv = metadata.get(GGUF_KEYS.unkId);
  const unk = unkKv === undefined ? 0 : Number(unkKv.value);
  metadata.set(archKey(spec.arch, "vocab_size"), kv.u32(vocab.length));
  const heads = num(cfg, "num_attention_heads", configFile);
  const kvHeads = num(cfg, "num_key_value_heads", configFile, heads);
  const shards = await openShards(dir);
  const tensors: GgufTensorInput[] = [];
  let parameters = 0;
  try {
    for (const shard of shards) {
      // Tied weights saved once: __metadata__ maps the missing name to the stored one.
      const aliases = Object.entries(shard.metadata)
        .filter(([alias, target]) => !shard.tensor(alias) && shard.tensor(target) && hfToGgufName(spec.family, alias))
        .map(([alias, target]) => ({ ...shard.tensor(target)!, name: alias, source: target }));
      for (const t of [...shard.tensors.map((x) => ({ ...x, source: x.name })), ...aliases]) {
        throwIfAborted(options.signal, `convert ${dir}`);
        const name = hfToGgufName(spec.family, t.name);
        if (name === null || (name === "output.weight" && cfg["tie_word_embeddings"] === true)) continue;
        if (name === undefined) {
          throw new InfuseError(
            "convert.unknown_tensor",
            `${shard.path}: tensor ${t.name} has no GGUF name for ${modelType}`,
            {
              kind: "input",
              details: { file: shard.path, tensor: t.name },
            },
          );
        }
        let data = await shard.readTensorF32(t.source, options);
        const rows = t.shape[0]!;
        if (spec.permuteQK && /attn_q\.weight$/.test(name)) data = permuteQK(data, rows, heads);
        if (spec.permuteQK && /attn_k\.weight$/.test(name)) data = permuteQK(data, rows, kvHeads);
        if ((name === "token_embd.weight" || name === "output.weight") && rows < vocab.length) {
          data = padRows(data, rows, vocab.length, unk);
        }
        const dims = [...t.shape].reverse();
        dims[dims.length - 1] = data.length / (dims.length === 2 ? dims[0]! : 1);
        const matrix = dims.length === 2 && dims[0]! % QK === 0;
        const type =
          dims.length === 1 || ADDED_NOT_MULTIPLIED.test(name) ? GgmlType.F32 : matrix ? out.type : GgmlType.F16;
        tensors.push({ name, dims, type, data });
        parameters += data.length;
      }
    }
  } finally {
    for (const s of shards) s.close();
  }
  const ropeFreqs = spec.arch === "bert" ? undefined : ropeFreqsTensor(cfg, configFile);
  if (ropeFreqs) tensors.push(ropeFreqs);
  await writeGguf(outPath, { metadata, tensors }, options);
  return { path: outPath, architecture: spec.arch, tensors: tensors.length, parameters };
}

/**
 * Rows for tokens the converter appended (byte-fallback tokens) copy the unknown token's row,
 * so the model treats them as it treats <unk> (rarely predicted).
 */
function padRows(w: Float32Array, rows: number, want: number, copyRow: number): Float32Array {
  const cols = w.length / rows;
  const out = new Float32Array(want * cols);
  out.set(w);
  const src = w.subarray(copyRow * cols, (copyRow + 1) * cols);
  for (let r = rows; r < want; r++) out.set(src, r * cols);
  return out;
}
