// A Tokenizer over a GGUF vocabulary (tokenizer.ggml.*), giving llama.cpp's token ids:
// special-token partition, BOS/EOS/CLS/SEP, the space prefix, then the SPM, BPE or WordPiece model.
import { InfuseError } from "../core/errors.js";
import { TokenType } from "../formats/gguf/keys.js";
import type { GgufKV } from "../formats/gguf/types.js";
import { BpeModel, bytesToUnicode } from "./bpe.js";
import { partitionSpecial } from "./special.js";
import { spmTokenize } from "./spm.js";
import type { DecodeOptions, EncodeOptions, Tokenizer, TokenizerKind } from "./types.js";
import { Vocab, fromByteString, toByteString, type ByteString } from "./vocab.js";
import { wpmTokenize } from "./wpm.js";

const SPACE = toByteString(" ");
const PHANTOM_SPACE = toByteString("\u2581");
const utf8 = new TextDecoder("utf-8", { fatal: false });

export class GgufTokenizer implements Tokenizer {
  readonly kind: TokenizerKind;
  readonly vocab: Vocab;
  private readonly specials: number[];
  private readonly bpe: BpeModel | undefined;
  private unicodeToByte: Map<string, number> | undefined;

  constructor(metadata: Map<string, GgufKV>, source = "GGUF") {
    this.vocab = new Vocab(metadata, source);
    this.kind = this.vocab.kind === "llama" ? "spm" : this.vocab.kind === "gpt2" ? "bpe" : "wordpiece";
    this.specials = this.vocab.specialTokens();
    this.bpe = this.vocab.kind === "gpt2" ? new BpeModel(this.vocab) : undefined;
  }

  get vocabSize(): number {
    return this.vocab.size;
  }
  get bosId(): number | undefined {
    return this.vocab.special.bos;
  }
  get eosId(): number | undefined {
    return this.vocab.kind === "bert" ? this.vocab.special.sep : this.vocab.special.eos;
  }
  get chatTemplate(): string | undefined {
    return this.vocab.chatTemplate;
  }

  tokenId(text: string): number | undefined {
    return this.vocab.ids.get(toByteString(text));
  }

  isSpecial(id: number): boolean {
    return this.vocab.types[id] === TokenType.CONTROL;
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const addSpecial = options.addSpecial ?? true;
    const v = this.vocab;
    const out: number[] = [];
    const bert = v.kind === "bert";
    if (addSpecial && (bert || v.addBos) && v.special.bos !== undefined) out.push(v.special.bos);
    let prevSpecial = true;
    for (const f of partitionSpecial(v, toByteString(text), options.parseSpecial ?? false, this.specials)) {
      if ("text" in f && f.text.length === 0) continue;
      if ("token" in f) {
        out.push(f.token);
        prevSpecial = true;
        continue;
      }
      if (v.kind === "llama") {
        const raw: ByteString = (v.addSpacePrefix && prevSpecial ? SPACE : "") + f.text;
        spmTokenize(v, raw.replaceAll(SPACE, PHANTOM_SPACE), out);
      } else if (this.bpe) this.bpe.tokenize(f.text, out);
      else wpmTokenize(v, f.text, out);
      prevSpecial = false;
    }
    if (addSpecial && bert && v.special.sep !== undefined) out.push(v.special.sep);
    else if (addSpecial && v.addEos && v.special.eos !== undefined) out.push(v.special.eos);
    return out;
  }

  tokenBytes(id: number): Uint8Array {
    const v = this.vocab;
    const text = v.bytes[id];
    if (text === undefined) {
      throw new InfuseError("tokenizer.bad_id", `token id ${id} is outside the vocabulary of ${v.size}`, {
        kind: "input",
      });
    }
    const type = v.types[id];
    if (type === TokenType.BYTE) return Uint8Array.of(parseInt(v.tokens[id]!.slice(3, 5), 16));
    if (type === TokenType.CONTROL || type === TokenType.USER_DEFINED || type === TokenType.UNKNOWN) {
      return fromByteString(text);
    }
    if (v.kind === "gpt2") return this.byteLevelBytes(v.tokens[id]!);
    return fromByteString(text.replaceAll(PHANTOM_SPACE, SPACE));
  }

  private byteLevelBytes(token: string): Uint8Array {
    this.unicodeToByte ??= new Map(bytesToUnicode().map((c, b) => [c, b]));
    return Uint8Array.from([...token].map((c) => this.unicodeToByte!.get(c) ?? 0x3f));
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const skip = options.skipSpecial ?? true;
    const parts: Uint8Array[] = [];
    for (const id of ids) {
      if (skip && this.isSpecial(id)) continue;
      parts.push(this.tokenBytes(id));
    }
    let text = utf8.decode(Buffer.concat(parts));
    if ((this.kind === "spm" && this.vocab.addSpacePrefix) || this.kind === "wordpiece") {
      if (text.startsWith(" ")) text = text.slice(1);
    }
    return text;
  }
}

/** A tokenizer from GGUF metadata (a GgufFile's `metadata`). */
export function tokenizerFromGgufMetadata(metadata: Map<string, GgufKV>, source?: string): GgufTokenizer {
  return new GgufTokenizer(metadata, source);
}
