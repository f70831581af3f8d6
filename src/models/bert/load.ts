// Opens a BERT-family encoder from a GGUF file (llama.cpp's bert tensor names and keys) or a Hugging
// Face folder (config.json, *.safetensors, tokenizer.json or vocab.txt, sentence-transformers pooling).
// Weights load as f32 (trainable). WordPiece vocabularies from either source become the same GGUF
// tokenizer, so token ids equal llama.cpp's.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { InfuseError, throwIfAborted } from "../../core/errors.js";
import type { TaskOptions } from "../../core/progress.js";
import { ggufVocabFromTokenizerJson } from "../../formats/convert/vocab.js";
import { GGUF_KEYS, kv, openGguf, plainValue, TokenType, type GgufKV } from "../../formats/gguf/index.js";
import { hfToGgufName } from "../../formats/hf/names.js";
import { openSafetensors, type SafetensorsFile } from "../../formats/safetensors.js";
import { Tensor } from "../../tensor/index.js";
import { loadHfTokenizer } from "../../tokenizers/hf.js";
import { tokenizerFromGgufMetadata } from "../../tokenizers/gguf-tokenizer.js";
import type { Tokenizer } from "../../tokenizers/types.js";
import { Linear } from "../linear.js";
import { checkFinite, requireTensor } from "../llama/weights.js";
import { bertConfigFromGguf, bertConfigFromHf, stPooling, type BertConfig } from "./config.js";
import { BertModel, type BertLayer, type BertWeights } from "./model.js";

export interface LoadedBert {
  model: BertModel;
  tokenizer: Tokenizer;
  /** The file or folder the weights came from. */
  path: string;
}

interface Source {
  shape: number[];
  f32(): Promise<Float32Array>;
}

/** Loads a .gguf file or a Hugging Face folder. */
export async function loadBert(ref: string, options: TaskOptions = {}): Promise<LoadedBert> {
  if (!existsSync(ref)) {
    throw new InfuseError("model.not_found", `${ref}: no such file or folder`, {
      kind: "not_found",
      hint: "give a BERT-family .gguf file or a Hugging Face folder with config.json and model.safetensors",
    });
  }
  return ref.toLowerCase().endsWith(".gguf") ? loadBertGguf(ref, options) : loadBertFolder(ref, options);
}

export async function loadBertGguf(file: string, options: TaskOptions = {}): Promise<LoadedBert> {
  const gguf = await openGguf(file, options);
  try {
    const get = (key: string) => plainValue(gguf.get(key));
    const typeRows = gguf.tensor("token_types.weight")?.dims[1] ?? 0;
    const config = bertConfigFromGguf(get, file, typeRows);
    const source = new Map<string, Source>();
    for (const t of gguf.tensors) {
      source.set(t.name, { shape: [...t.dims].reverse(), f32: () => gguf.readTensorF32(t.name, options) });
    }
    const weights = await loadBertWeights(config, source, file, options);
    return {
      model: new BertModel(config, weights),
      tokenizer: tokenizerFromGgufMetadata(gguf.metadata, file),
      path: file,
    };
  } finally {
    gguf.close();
  }
}

/** HF encoder tensor names carry a model prefix (bert., roberta., …) that GGUF names do not. */
const HF_PREFIX = /^(bert|roberta|model|encoder_model|0\.auto_model)\./;
/** Heads and extras an embedding model does not use. */
const HF_SKIP = /^(cls|lm_head|pooler|classifier|qa_outputs)\.|\.position_ids$|^embeddings\.position_ids$/;

export async function loadBertFolder(dir: string, options: TaskOptions = {}): Promise<LoadedBert> {
  const configFile = path.join(dir, "config.json");
  if (!existsSync(configFile)) {
    throw new InfuseError("model.no_config", `${dir}: no config.json`, {
      kind: "input",
      hint: "a Hugging Face encoder folder holds config.json, model.safetensors and tokenizer.json or vocab.txt",
    });
  }
  const cfg = JSON.parse(await readFile(configFile, "utf8")) as Record<string, unknown>;
  const config = { ...bertConfigFromHf(cfg, configFile), pooling: await stPooling(dir) };
  const shards = await openShards(dir);
  try {
    const source = new Map<string, Source>();
    let typeRows = 0;
    for (const shard of shards) {
      for (const t of shard.tensors) {
        const bare = t.name.replace(HF_PREFIX, "");
        if (HF_SKIP.test(bare) || HF_SKIP.test(t.name)) continue;
        const name = hfToGgufName("bert", bare);
        if (name === null) continue;
        if (name === undefined) {
          throw new InfuseError("model.unknown_tensor", `${shard.path}: tensor ${t.name} has no BERT name`, {
            kind: "input",
            hint: "the folder holds an encoder architecture the engine does not run (see docs/embeddings.md)",
            details: { file: shard.path, tensor: t.name },
          });
        }
        if (name === "token_types.weight") typeRows = t.shape[0] ?? 0;
        source.set(name, { shape: [...t.shape], f32: () => shard.readTensorF32(t.name, options) });
      }
    }
    const weights = await loadBertWeights({ ...config, typeVocabSize: typeRows }, source, dir, options);
    return {
      model: new BertModel({ ...config, typeVocabSize: typeRows }, weights),
      tokenizer: await folderTokenizer(dir),
      path: dir,
    };
  } finally {
    for (const s of shards) s.close();
  }
}

async function openShards(dir: string): Promise<SafetensorsFile[]> {
  const index = path.join(dir, "model.safetensors.index.json");
  if (existsSync(index)) {
    const { weight_map } = JSON.parse(await readFile(index, "utf8")) as { weight_map: Record<string, string> };
    return Promise.all([...new Set(Object.values(weight_map))].map((f) => openSafetensors(path.join(dir, f))));
  }
  const file = path.join(dir, "model.safetensors");
  if (!existsSync(file)) {
    throw new InfuseError("model.no_weights", `${dir}: no model.safetensors`, {
      kind: "input",
      hint: "the engine reads safetensors weights (convert pytorch_model.bin with the transformers library)",
    });
  }
  return [await openSafetensors(file)];
}

/** A WordPiece vocabulary (tokenizer.json or vocab.txt) as llama.cpp's tokenizer; else tokenizer.json as is. */
export async function folderTokenizer(dir: string): Promise<Tokenizer> {
  const jsonFile = path.join(dir, "tokenizer.json");
  if (existsSync(jsonFile)) {
    const json = JSON.parse(await readFile(jsonFile, "utf8")) as Parameters<typeof ggufVocabFromTokenizerJson>[0];
    if (json.model.type === "WordPiece")
      return tokenizerFromGgufMetadata(ggufVocabFromTokenizerJson(json, {}, { file: jsonFile }), jsonFile);
    return loadHfTokenizer(dir);
  }
  const vocabFile = path.join(dir, "vocab.txt");
  if (existsSync(vocabFile))
    return tokenizerFromGgufMetadata(wordPieceMetadata(await readFile(vocabFile, "utf8")), vocabFile);
  throw new InfuseError("tokenizer.not_found", `${dir}: no tokenizer.json or vocab.txt`, {
    kind: "not_found",
    hint: "copy the model's tokenizer files into the folder",
  });
}

/** GGUF tokenizer metadata for a BERT vocab.txt (one token a line). */
export function wordPieceMetadata(vocabText: string): Map<string, GgufKV> {
  const vocab = vocabText.split("\n").map((l) => l.replace(/\r$/, ""));
  if (vocab.at(-1) === "") vocab.pop();
  const special = (t: string) => /^\[.*\]$/.test(t);
  const md = new Map<string, GgufKV>([
    [GGUF_KEYS.tokenizerModel, kv.str("bert")],
    [GGUF_KEYS.tokens, kv.strs(vocab.map((t) => (special(t) ? t : t.startsWith("##") ? t.slice(2) : `\u2581${t}`)))],
    [
      GGUF_KEYS.tokenType,
      kv.i32s(
        vocab.map((t) => (t === "[UNK]" ? TokenType.UNKNOWN : special(t) ? TokenType.CONTROL : TokenType.NORMAL)),
      ),
    ],
  ]);
  const ids: [string, string][] = [
    [GGUF_KEYS.unkId, "[UNK]"],
    [GGUF_KEYS.clsId, "[CLS]"],
    [GGUF_KEYS.bosId, "[CLS]"],
    [GGUF_KEYS.sepId, "[SEP]"],
    [GGUF_KEYS.padId, "[PAD]"],
    [GGUF_KEYS.maskId, "[MASK]"],
  ];
  for (const [key, tok] of ids) if (vocab.includes(tok)) md.set(key, kv.u32(vocab.indexOf(tok)));
  return md;
}

/** Reads every tensor the config asks for under GGUF names; throws naming the first missing or mis-shaped one. */
async function loadBertWeights(
  config: BertConfig,
  source: Map<string, Source>,
  where: string,
  options: TaskOptions,
): Promise<BertWeights> {
  const { dim, ffnDim, vocabSize, maxPositions, typeVocabSize } = config;
  const read = async (name: string, shape: number[]): Promise<Tensor> => {
    throwIfAborted(options.signal, `load ${where}`);
    const t = requireTensor(source, name, shape, where, "a BERT-family encoder");
    return new Tensor(checkFinite(await t.f32(), name, where), shape);
  };
  const linear = async (name: string, rows: number, cols: number): Promise<Linear> =>
    new Linear(name, await read(`${name}.weight`, [rows, cols]), await read(`${name}.bias`, [rows]));
  const layers: BertLayer[] = [];
  for (let l = 0; l < config.layers; l++) {
    const p = `blk.${l}`;
    layers.push({
      q: await linear(`${p}.attn_q`, dim, dim),
      k: await linear(`${p}.attn_k`, dim, dim),
      v: await linear(`${p}.attn_v`, dim, dim),
      o: await linear(`${p}.attn_output`, dim, dim),
      attnNormW: await read(`${p}.attn_output_norm.weight`, [dim]),
      attnNormB: await read(`${p}.attn_output_norm.bias`, [dim]),
      up: await linear(`${p}.ffn_up`, ffnDim, dim),
      down: await linear(`${p}.ffn_down`, dim, ffnDim),
      outNormW: await read(`${p}.layer_output_norm.weight`, [dim]),
      outNormB: await read(`${p}.layer_output_norm.bias`, [dim]),
    });
  }
  return {
    tokenEmbd: await read("token_embd.weight", [vocabSize, dim]),
    positionEmbd: await read("position_embd.weight", [maxPositions, dim]),
    tokenTypes: typeVocabSize > 0 ? await read("token_types.weight", [typeVocabSize, dim]) : null,
    embNormW: await read("token_embd_norm.weight", [dim]),
    embNormB: await read("token_embd_norm.bias", [dim]),
    layers,
  };
}
