// Builds GGUF tokenizer metadata (tokenizer.ggml.*) from a Hugging Face tokenizer.json
// (+ tokenizer_config.json) or a SentencePiece tokenizer.model, the layouts llama.cpp loads:
// "llama" (SentencePiece/byte-fallback BPE), "gpt2" (byte-level BPE), "bert" (WordPiece).
import { InfuseError } from "../../core/errors.js";
import { GGUF_KEYS, TokenType } from "../gguf/keys.js";
import { kv } from "../gguf/kv.js";
import type { GgufKV } from "../gguf/types.js";
import { PieceType, parseSentencePieceModel } from "./sentencepiece.js";

/** The subset of tokenizer.json we read. */
interface TokenizerJson {
  model: {
    type: string;
    vocab: Record<string, number> | [string, number][];
    merges?: (string | [string, string])[];
    unk_token?: string;
    byte_fallback?: boolean;
  };
  added_tokens?: { id: number; content: string; special: boolean }[];
  pre_tokenizer?: { type: string; pretokenizers?: { type: string }[] } | null;
  normalizer?: unknown;
}

interface TokenizerConfig {
  bos_token?: string | { content: string } | null;
  eos_token?: string | { content: string } | null;
  unk_token?: string | { content: string } | null;
  pad_token?: string | { content: string } | null;
  add_bos_token?: boolean;
  add_eos_token?: boolean;
  chat_template?: string;
}

const BYTE_TOKEN = /^<0x[0-9A-F]{2}>$/;
/** llama.cpp's BERT vocab marks word starts with U+2581 and drops the `##` continuation prefix. */
const PHANTOM_SPACE = "\u2581";
/** Score for byte-fallback BPE tokens that no merge produces: below every merge. */
const UNMERGED_SCORE = -1e9;

function tokenName(t: TokenizerConfig[keyof TokenizerConfig]): string | undefined {
  if (t === null || t === undefined || typeof t === "boolean") return undefined;
  return typeof t === "string" ? t : (t as { content: string }).content;
}

function idsInOrder(json: TokenizerJson): string[] {
  const entries: [string, number][] = Array.isArray(json.model.vocab)
    ? json.model.vocab.map(([t], i) => [t, i])
    : Object.entries(json.model.vocab);
  for (const a of json.added_tokens ?? []) entries.push([a.content, a.id]);
  const tokens: string[] = [];
  for (const [t, id] of entries) tokens[id] = t;
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i] === undefined) tokens[i] = `[PAD${i}]`; // gaps in the id space, as convert_hf_to_gguf fills them
  }
  return tokens;
}

function mergePairs(json: TokenizerJson): [string, string][] {
  return (json.model.merges ?? []).map((m) => {
    if (Array.isArray(m)) return m;
    const i = m.indexOf(" ", 1);
    return [m.slice(0, i), m.slice(i + 1)];
  });
}

function isByteLevel(json: TokenizerJson): boolean {
  const pre = json.pre_tokenizer;
  if (!pre) return false;
  return pre.type === "ByteLevel" || (pre.pretokenizers ?? []).some((p) => p.type === "ByteLevel");
}

export interface VocabOptions {
  /** llama.cpp pre-tokenizer name for byte-level BPE (e.g. "gpt2", "llama-bpe", "qwen2"). */
  pre?: string;
  /** Name used in error messages. */
  file?: string;
  /**
   * Byte-fallback BPE vocabularies without `<0xXX>` tokens (TinyStories-656K) make llama.cpp
   * abort on characters outside the vocabulary; this appends the missing 256 byte tokens after
   * the last id. Only for models whose embeddings can grow (tests, new models).
   */
  addMissingByteTokens?: boolean;
}

/**
 * GGUF tokenizer metadata for a Hugging Face tokenizer.json. `config` is tokenizer_config.json.
 */
export function ggufVocabFromTokenizerJson(
  json: TokenizerJson,
  config: TokenizerConfig = {},
  options: VocabOptions = {},
): Map<string, GgufKV> {
  const file = options.file ?? "tokenizer.json";
  const tokens = idsInOrder(json);
  if (options.addMissingByteTokens && json.model.type === "BPE" && !isByteLevel(json)) {
    const have = new Set(tokens);
    for (let b = 0; b < 256; b++) {
      const t = `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
      if (!have.has(t)) tokens.push(t);
    }
  }
  const id = (name: string | undefined) => (name === undefined ? undefined : tokens.indexOf(name));
  const added = new Map((json.added_tokens ?? []).map((a) => [a.id, a]));
  const types = tokens.map((t, i) => {
    const a = added.get(i);
    if (a) return a.special ? TokenType.CONTROL : TokenType.USER_DEFINED;
    if (t === json.model.unk_token) return TokenType.UNKNOWN;
    if (BYTE_TOKEN.test(t) && (json.model.byte_fallback || options.addMissingByteTokens)) return TokenType.BYTE;
    return TokenType.NORMAL;
  });
  const md = new Map<string, GgufKV>();
  const setIds = (entries: [string, number | undefined][]) => {
    for (const [key, v] of entries) if (v !== undefined && v >= 0) md.set(key, kv.u32(v));
  };
  if (json.model.type === "WordPiece") {
    md.set(GGUF_KEYS.tokenizerModel, kv.str("bert"));
    md.set(
      GGUF_KEYS.tokens,
      kv.strs(tokens.map((t) => (/^\[.*\]$/.test(t) ? t : t.startsWith("##") ? t.slice(2) : PHANTOM_SPACE + t))),
    );
    md.set(GGUF_KEYS.tokenType, kv.i32s(types));
    setIds([
      [GGUF_KEYS.unkId, id(json.model.unk_token ?? "[UNK]")],
      [GGUF_KEYS.clsId, id("[CLS]")],
      [GGUF_KEYS.bosId, id("[CLS]")],
      [GGUF_KEYS.sepId, id("[SEP]")],
      [GGUF_KEYS.padId, id("[PAD]")],
      [GGUF_KEYS.maskId, id("[MASK]")],
    ]);
  } else if (json.model.type === "BPE" && isByteLevel(json)) {
    md.set(GGUF_KEYS.tokenizerModel, kv.str("gpt2"));
    md.set(GGUF_KEYS.tokenizerPre, kv.str(options.pre ?? "default"));
    md.set(GGUF_KEYS.tokens, kv.strs(tokens));
    md.set(GGUF_KEYS.tokenType, kv.i32s(types));
    md.set(GGUF_KEYS.merges, kv.strs(mergePairs(json).map(([a, b]) => `${a} ${b}`)));
  } else if (json.model.type === "BPE") {
    // SentencePiece-style BPE (▁ for spaces, <0xXX> byte fallback): llama.cpp's "llama" tokenizer
    // merges the adjacent pair whose result scores highest, so a token's score is minus the rank
    // of the merge that makes it; that reproduces BPE's lowest-rank-first order.
    const rankOf = new Map<string, number>();
    mergePairs(json).forEach(([a, b], rank) => {
      const t = a + b;
      if (!rankOf.has(t)) rankOf.set(t, rank);
    });
    md.set(GGUF_KEYS.tokenizerModel, kv.str("llama"));
    md.set(GGUF_KEYS.tokens, kv.strs(tokens));
    md.set(GGUF_KEYS.scores, kv.f32s(tokens.map((t) => -(rankOf.get(t) ?? -UNMERGED_SCORE))));
    md.set(GGUF_KEYS.tokenType, kv.i32s(types));
  } else {
    throw new InfuseError(
      "tokenizer.unsupported",
      `${file}: tokenizer model type ${json.model.type} has no GGUF layout here`,
      {
        kind: "input",
        hint: "supported: BPE (byte-level or byte-fallback) and WordPiece",
      },
    );
  }
  setIds([
    [GGUF_KEYS.bosId, md.has(GGUF_KEYS.bosId) ? undefined : id(tokenName(config.bos_token))],
    [GGUF_KEYS.eosId, json.model.type === "WordPiece" ? undefined : id(tokenName(config.eos_token))],
    [GGUF_KEYS.unkId, md.has(GGUF_KEYS.unkId) ? undefined : id(tokenName(config.unk_token) ?? json.model.unk_token)],
    [GGUF_KEYS.padId, md.has(GGUF_KEYS.padId) ? undefined : id(tokenName(config.pad_token))],
  ]);
  if (config.add_bos_token !== undefined) md.set(GGUF_KEYS.addBos, kv.bool(config.add_bos_token));
  if (config.add_eos_token !== undefined) md.set(GGUF_KEYS.addEos, kv.bool(config.add_eos_token));
  if (config.chat_template) md.set(GGUF_KEYS.chatTemplate, kv.str(config.chat_template));
  return md;
}

/** GGUF tokenizer metadata ("llama") for a SentencePiece tokenizer.model. */
export function ggufVocabFromSentencePiece(bytes: Uint8Array, file?: string): Map<string, GgufKV> {
  const m = parseSentencePieceModel(bytes, file);
  const md = new Map<string, GgufKV>([
    [GGUF_KEYS.tokenizerModel, kv.str("llama")],
    [GGUF_KEYS.tokens, kv.strs(m.pieces.map((p) => p.piece))],
    [GGUF_KEYS.scores, kv.f32s(m.pieces.map((p) => p.score))],
    [
      GGUF_KEYS.tokenType,
      kv.i32s(
        m.pieces.map((p) => (p.type >= PieceType.NORMAL && p.type <= PieceType.BYTE ? p.type : TokenType.NORMAL)),
      ),
    ],
    [GGUF_KEYS.addSpacePrefix, kv.bool(m.addDummyPrefix)],
  ]);
  for (const [key, v] of [
    [GGUF_KEYS.bosId, m.bosId],
    [GGUF_KEYS.eosId, m.eosId],
    [GGUF_KEYS.unkId, m.unkId],
    [GGUF_KEYS.padId, m.padId],
  ] as const) {
    if (v >= 0) md.set(key, kv.u32(v));
  }
  return md;
}
