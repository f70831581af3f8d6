// Instruction prefixes and pooling that well-known embedding families were trained with,
// matched on the model reference. Explicit options always win; unknown models get none.
import type { Pooling } from "./embedder.js";

export interface EmbedPreset {
  queryPrefix: string;
  passagePrefix: string;
  pooling?: Pooling;
}

const RETRIEVAL_INSTRUCTION = "Represent this sentence for searching relevant passages: ";

const PRESETS: { match: RegExp; preset: EmbedPreset }[] = [
  { match: /bge-m3/i, preset: { queryPrefix: "", passagePrefix: "", pooling: "cls" } },
  {
    match: /bge-[a-z]+-zh/i,
    preset: { queryPrefix: "为这个句子生成表示以用于检索相关文章：", passagePrefix: "", pooling: "cls" },
  },
  { match: /bge-[a-z]+-en/i, preset: { queryPrefix: RETRIEVAL_INSTRUCTION, passagePrefix: "", pooling: "cls" } },
  { match: /mxbai-embed-large/i, preset: { queryPrefix: RETRIEVAL_INSTRUCTION, passagePrefix: "", pooling: "cls" } },
  {
    match: /snowflake-arctic-embed/i,
    preset: { queryPrefix: RETRIEVAL_INSTRUCTION, passagePrefix: "", pooling: "cls" },
  },
  {
    match: /nomic-embed-text/i,
    preset: { queryPrefix: "search_query: ", passagePrefix: "search_document: ", pooling: "mean" },
  },
  {
    match: /(^|[/:_-])(multilingual-)?e5-(small|base|large)(?!.*instruct)/i,
    preset: { queryPrefix: "query: ", passagePrefix: "passage: ", pooling: "mean" },
  },
];

/** The preset for a model reference or served model name, if it is a known family. */
export function presetFor(model: string): EmbedPreset | undefined {
  return PRESETS.find((p) => p.match.test(model))?.preset;
}
