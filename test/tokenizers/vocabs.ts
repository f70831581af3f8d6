// The real vocabularies of the parity suite, each as GGUF tokenizer metadata, and tiny GGUF
// models our writer makes around them so llama.cpp can load them.
import { readFileSync } from "node:fs";
import path from "node:path";
import { ggufVocabFromSentencePiece, ggufVocabFromTokenizerJson } from "../../src/formats/convert/vocab.js";
import { openGguf, writeGguf, type GgufKV } from "../../src/formats/gguf/index.js";
import { fixture } from "../helpers/fixtures.js";
import { tinyBert, tinyLlama } from "../formats/tiny-models.js";

export interface ParityVocab {
  name: string;
  /** tokenizer.json folder for the Hugging Face path, when the vocabulary has one. */
  hfDir?: string;
  metadata: () => Promise<Map<string, GgufKV>>;
  /** The vocabulary exactly as tokenizer.json has it (no appended tokens), for the HF comparison. */
  hfMetadata?: () => Promise<Map<string, GgufKV>>;
  /** Writes a model carrying the vocabulary; returns its path. */
  write: (dir: string) => Promise<string>;
}

const json = (rel: string) => JSON.parse(readFileSync(fixture(rel), "utf8")) as never;
const vocabSize = (md: Map<string, GgufKV>) => (md.get("tokenizer.ggml.tokens")!.value as string[]).length;

async function writeLlama(dir: string, name: string, md: Map<string, GgufKV>): Promise<string> {
  const file = path.join(dir, `${name}.gguf`);
  await writeGguf(file, tinyLlama({ vocabSize: vocabSize(md), embd: 32, ff: 32, heads: 2, kvHeads: 1, tokenizer: md }));
  return file;
}

const STORIES = "models/stories260K-gguf/stories260K.gguf";
const TINYSTORIES = "models/tinystories-656k-hf";
const MINILM = "models/all-MiniLM-L6-v2-tokenizer";

const llama2 = async () =>
  ggufVocabFromSentencePiece(readFileSync(fixture("models/llama2c-tokenizer/tokenizer.model")));
// TinyStories-656K has no <0xXX> tokens and llama.cpp aborts on bytes it cannot place; the
// parity model appends them (ids 2048+), so text the vocabulary covers keeps its ids.
const tinystories = async () =>
  ggufVocabFromTokenizerJson(json(`${TINYSTORIES}/tokenizer.json`), json(`${TINYSTORIES}/tokenizer_config.json`), {
    addMissingByteTokens: true,
  });
const minilm = async () =>
  ggufVocabFromTokenizerJson(json(`${MINILM}/tokenizer.json`), json(`${MINILM}/tokenizer_config.json`));

export const PARITY_VOCABS: ParityVocab[] = [
  {
    name: "stories260K (SentencePiece, 512)",
    metadata: async () => {
      const g = await openGguf(fixture(STORIES));
      g.close();
      return g.metadata;
    },
    write: async () => fixture(STORIES),
  },
  {
    name: "Llama-2 (SentencePiece, 32000)",
    metadata: llama2,
    write: async (d) => writeLlama(d, "llama2", await llama2()),
  },
  {
    name: "TinyStories-656K (byte-fallback BPE, 2048)",
    hfDir: TINYSTORIES,
    metadata: tinystories,
    hfMetadata: async () =>
      ggufVocabFromTokenizerJson(json(`${TINYSTORIES}/tokenizer.json`), json(`${TINYSTORIES}/tokenizer_config.json`)),
    write: async (d) => writeLlama(d, "tinystories", await tinystories()),
  },
  {
    name: "all-MiniLM-L6-v2 (WordPiece, 30522)",
    hfDir: MINILM,
    metadata: minilm,
    write: async (d) => {
      const md = await minilm();
      const file = path.join(d, "minilm.gguf");
      await writeGguf(file, tinyBert({ vocabSize: vocabSize(md), tokenizer: md }));
      return file;
    },
  },
];
