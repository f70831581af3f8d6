// The vocabulary a GGUF carries (tokenizer.ggml.*), indexed the way llama.cpp's llama_vocab
// indexes it: token texts as UTF-8 byte strings, scores, types, special ids. Leaves out encoding.
import { InfuseError } from "../core/errors.js";
import { GGUF_KEYS, TokenType } from "../formats/gguf/keys.js";
import type { GgufKV } from "../formats/gguf/types.js";

/** A string whose char codes are UTF-8 bytes (0..255): lookups are byte-exact like llama.cpp's. */
export type ByteString = string;

export function toByteString(text: string): ByteString {
  return Buffer.from(text, "utf8").toString("latin1");
}

export function fromByteString(bytes: ByteString): Uint8Array {
  return Buffer.from(bytes, "latin1");
}

export type VocabKind = "llama" | "gpt2" | "bert";

export interface SpecialIds {
  bos: number | undefined;
  eos: number | undefined;
  unk: number | undefined;
  sep: number | undefined;
  pad: number | undefined;
}

export class Vocab {
  readonly tokens: string[];
  readonly bytes: ByteString[];
  readonly scores: Float32Array;
  readonly types: Int32Array;
  readonly ids = new Map<ByteString, number>();
  readonly special: SpecialIds;
  readonly addBos: boolean;
  readonly addEos: boolean;
  readonly addSpacePrefix: boolean;
  readonly kind: VocabKind;
  readonly pre: string;
  readonly merges: string[];
  readonly chatTemplate: string | undefined;
  /** Longest token in bytes (WordPiece's window). */
  readonly maxTokenBytes: number;

  constructor(md: Map<string, GgufKV>, source: string) {
    const get = (k: string) => md.get(k)?.value;
    const model = get(GGUF_KEYS.tokenizerModel);
    const tokens = get(GGUF_KEYS.tokens);
    if (typeof model !== "string" || !Array.isArray(tokens)) {
      throw new InfuseError(
        "tokenizer.missing",
        `${source}: no tokenizer.ggml.model / tokenizer.ggml.tokens metadata`,
        {
          kind: "input",
          hint: "the GGUF carries no vocabulary; use the model's tokenizer.json instead",
        },
      );
    }
    if (model !== "llama" && model !== "gpt2" && model !== "bert") {
      throw new InfuseError("tokenizer.unsupported", `${source}: tokenizer.ggml.model "${model}" is not supported`, {
        kind: "input",
        hint: "supported: llama (SentencePiece), gpt2 (byte-level BPE), bert (WordPiece)",
      });
    }
    this.kind = model;
    this.tokens = tokens as string[];
    this.bytes = this.tokens.map(toByteString);
    const n = this.tokens.length;
    const scores = get(GGUF_KEYS.scores);
    this.scores = scores instanceof Float32Array ? scores : new Float32Array(n);
    const types = get(GGUF_KEYS.tokenType);
    this.types = types instanceof Int32Array ? types : new Int32Array(n).fill(TokenType.NORMAL);
    let max = 0;
    this.bytes.forEach((b, i) => {
      if (!this.ids.has(b)) this.ids.set(b, i);
      max = Math.max(max, b.length);
    });
    this.maxTokenBytes = max;
    const id = (k: string, fallback: number | undefined) => {
      const v = get(k);
      if (v === undefined) return fallback;
      const x = Number(v);
      return x >= 0 && x < n ? x : undefined;
    };
    const bert = model === "bert";
    this.special = {
      bos: id(GGUF_KEYS.bosId, bert ? 101 : model === "llama" ? 1 : 11),
      eos: id(GGUF_KEYS.eosId, bert ? undefined : model === "llama" ? 2 : 11),
      unk: id(GGUF_KEYS.unkId, bert ? 100 : model === "llama" ? 0 : undefined),
      sep: id(GGUF_KEYS.sepId, bert ? 102 : undefined),
      pad: id(GGUF_KEYS.padId, bert ? 0 : undefined),
    };
    const flag = (k: string, d: boolean) => (typeof get(k) === "boolean" ? (get(k) as boolean) : d);
    this.addBos = flag(GGUF_KEYS.addBos, model !== "gpt2");
    this.addEos = flag(GGUF_KEYS.addEos, false);
    this.addSpacePrefix = flag(GGUF_KEYS.addSpacePrefix, model === "llama");
    const pre = get(GGUF_KEYS.tokenizerPre);
    this.pre = typeof pre === "string" ? pre : "default";
    const merges = get(GGUF_KEYS.merges);
    this.merges = Array.isArray(merges) ? (merges as string[]) : [];
    const tpl = get(GGUF_KEYS.chatTemplate);
    this.chatTemplate = typeof tpl === "string" ? tpl : undefined;
  }

  get size(): number {
    return this.tokens.length;
  }

  isControl(id: number): boolean {
    return this.types[id] === TokenType.CONTROL;
  }

  /** Tokens llama.cpp splits out of raw text before tokenizing, longest first. */
  specialTokens(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.size; i++) {
      const t = this.types[i];
      if (t === TokenType.CONTROL || t === TokenType.USER_DEFINED || t === TokenType.UNKNOWN) out.push(i);
    }
    return out.sort((a, b) => this.bytes[b]!.length - this.bytes[a]!.length || a - b);
  }
}
