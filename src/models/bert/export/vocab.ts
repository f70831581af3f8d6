// The tokenizer of an encoder being saved, taken from the file or folder it was loaded from: a
// Hugging Face folder's tokenizer files are copied (tokenizer.json rebuilt from vocab.txt when
// missing); a GGUF's WordPiece vocabulary (llama.cpp's "▁word"/"piece" form) is turned back into
// vocab.txt, tokenizer.json, tokenizer_config.json and special_tokens_map.json. The GGUF side gets
// tokenizer.ggml.* metadata as our loader reads it. Leaves out rebuilding Unigram/BPE tokenizers
// from a GGUF (XLM-RoBERTa from GGUF).
import { existsSync } from "node:fs";
import { copyFile, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { InfuseError } from "../../../core/errors.js";
import { ggufVocabFromTokenizerJson } from "../../../formats/convert/vocab.js";
import { GGUF_KEYS, openGguf, TokenType, type GgufKV } from "../../../formats/gguf/index.js";
import { wordPieceMetadata } from "../load.js";

export interface EncoderVocab {
  /** WordPiece tokens by id as vocab.txt holds them ("##ing" continues a word); undefined for other tokenizers. */
  wordPiece: string[] | undefined;
  /** tokenizer.ggml.* metadata for a GGUF; undefined when the tokenizer is not WordPiece. */
  gguf: Map<string, GgufKV> | undefined;
  /** The folder whose tokenizer files are copied, when the source is a folder. */
  sourceDir: string | undefined;
  /** Whether the tokenizer lowercases (llama.cpp's WordPiece always does). */
  lowercase: boolean;
}

/** Tokenizer files a Hugging Face encoder folder may hold, copied as they are. */
const TOKENIZER_FILES = [
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "vocab.txt",
  "added_tokens.json",
  "sentencepiece.bpe.model",
];
const SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] as const;

/** The vocabulary of the model at `source` (a .gguf file or a Hugging Face folder). */
export async function readEncoderVocab(source: string): Promise<EncoderVocab> {
  if (source.toLowerCase().endsWith(".gguf")) return ggufVocab(source);
  const jsonFile = path.join(source, "tokenizer.json");
  if (existsSync(jsonFile)) {
    type Json = Parameters<typeof ggufVocabFromTokenizerJson>[0] & {
      model: { vocab?: Record<string, number> };
      normalizer?: { lowercase?: boolean } | null;
    };
    const json = JSON.parse(await readFile(jsonFile, "utf8")) as Json;
    if (json.model.type !== "WordPiece" || !json.model.vocab)
      return { wordPiece: undefined, gguf: undefined, sourceDir: source, lowercase: false };
    const configFile = path.join(source, "tokenizer_config.json");
    const config = existsSync(configFile) ? (JSON.parse(await readFile(configFile, "utf8")) as object) : {};
    const tokens: string[] = [];
    for (const [t, id] of Object.entries(json.model.vocab)) tokens[id] = t;
    return {
      wordPiece: tokens,
      gguf: ggufVocabFromTokenizerJson(json, config as never, { file: jsonFile }),
      sourceDir: source,
      lowercase: json.normalizer?.lowercase !== false,
    };
  }
  const vocabFile = path.join(source, "vocab.txt");
  if (existsSync(vocabFile)) {
    const text = await readFile(vocabFile, "utf8");
    const tokens = text.split("\n").map((l) => l.replace(/\r$/, ""));
    if (tokens.at(-1) === "") tokens.pop();
    return { wordPiece: tokens, gguf: wordPieceMetadata(text), sourceDir: source, lowercase: true };
  }
  throw new InfuseError("export.no_tokenizer", `${source}: no tokenizer.json or vocab.txt to save with the encoder`, {
    kind: "input",
    hint: "give the folder or .gguf the encoder was loaded from as the tokenizer source",
  });
}

async function ggufVocab(file: string): Promise<EncoderVocab> {
  const g = await openGguf(file);
  try {
    const gguf = new Map([...g.metadata].filter(([k]) => k.startsWith("tokenizer.ggml.")));
    const model = g.get(GGUF_KEYS.tokenizerModel);
    const tokens = g.get(GGUF_KEYS.tokens);
    if (model !== "bert" || !Array.isArray(tokens)) {
      throw new InfuseError("export.tokenizer_unsupported", `${file}: tokenizer "${String(model)}" is not WordPiece`, {
        kind: "input",
        hint: "saving an encoder loaded from GGUF needs a WordPiece (BERT) vocabulary; load it from its Hugging Face folder instead",
      });
    }
    const types = g.get(GGUF_KEYS.tokenType);
    const typeList = ArrayBuffer.isView(types) || Array.isArray(types) ? (types as ArrayLike<number>) : [];
    const typeOf = (i: number) => Number(typeList[i] ?? TokenType.NORMAL);
    const wordPiece = (tokens as string[]).map((t, i) => {
      const special = typeOf(i) === TokenType.CONTROL || typeOf(i) === TokenType.UNKNOWN || /^\[.*\]$/.test(t);
      if (special) return t;
      return t.startsWith("\u2581") ? t.slice(1) : `##${t}`;
    });
    return { wordPiece, gguf, sourceDir: undefined, lowercase: true };
  } finally {
    g.close();
  }
}

/** Writes the tokenizer files into `dir`: copies from the source folder, rebuilds what is missing. */
export async function writeTokenizerFiles(vocab: EncoderVocab, dir: string, maxTokens: number): Promise<string[]> {
  const written: string[] = [];
  const has = (f: string) => existsSync(path.join(dir, f));
  if (vocab.sourceDir && path.resolve(vocab.sourceDir) !== path.resolve(dir)) {
    for (const f of TOKENIZER_FILES) {
      const from = path.join(vocab.sourceDir, f);
      if (!existsSync(from)) continue;
      await copyFile(from, path.join(dir, f));
      written.push(f);
    }
  }
  const wp = vocab.wordPiece;
  if (!wp) {
    if (!has("tokenizer.json")) {
      throw new InfuseError("export.no_tokenizer", `${dir}: the encoder's tokenizer has no tokenizer.json to save`, {
        kind: "input",
        hint: "the source folder must hold tokenizer.json for a non-WordPiece tokenizer",
      });
    }
    return written;
  }
  const write = async (f: string, text: string) => {
    if (has(f)) return;
    await writeFile(path.join(dir, f), text);
    written.push(f);
  };
  await write("vocab.txt", wp.join("\n") + "\n");
  await write("tokenizer.json", JSON.stringify(wordPieceTokenizerJson(wp, vocab.lowercase), null, 2));
  const specials = Object.fromEntries(
    SPECIALS.filter((s) => wp.includes(s)).map((s) => [`${s.slice(1, -1).toLowerCase()}_token`, s]),
  );
  await write(
    "tokenizer_config.json",
    JSON.stringify(
      {
        tokenizer_class: "BertTokenizer",
        do_lower_case: vocab.lowercase,
        do_basic_tokenize: true,
        tokenize_chinese_chars: true,
        strip_accents: null,
        clean_up_tokenization_spaces: true,
        model_max_length: maxTokens,
        ...specials,
      },
      null,
      2,
    ),
  );
  await write("special_tokens_map.json", JSON.stringify(specials, null, 2));
  return written;
}

/** A Hugging Face tokenizers file for a BERT WordPiece vocabulary ([CLS] A [SEP], BertNormalizer). */
export function wordPieceTokenizerJson(tokens: string[], lowercase: boolean): Record<string, unknown> {
  const id = (t: string) => tokens.indexOf(t);
  const special = (t: string, type: number) => ({ SpecialToken: { id: t, type_id: type } });
  const seq = (s: string, type: number) => ({ Sequence: { id: s, type_id: type } });
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.filter((s) => id(s) >= 0).map((s) => ({
      id: id(s),
      content: s,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: {
      type: "BertNormalizer",
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase,
    },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [special("[CLS]", 0), seq("A", 0), special("[SEP]", 0)],
      pair: [special("[CLS]", 0), seq("A", 0), special("[SEP]", 0), seq("B", 1), special("[SEP]", 1)],
      special_tokens: Object.fromEntries(["[CLS]", "[SEP]"].map((t) => [t, { id: t, ids: [id(t)], tokens: [t] }])),
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: {
      type: "WordPiece",
      unk_token: "[UNK]",
      continuing_subword_prefix: "##",
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(tokens.map((t, i) => [t, i])),
    },
  };
}
