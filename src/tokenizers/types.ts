// The one tokenizer interface every implementation (GGUF vocabularies, tokenizer.json) meets.

export interface EncodeOptions {
  /** Add BOS/CLS (and EOS/SEP where the model asks for it). Default true. */
  addSpecial?: boolean;
  /** Recognise special token texts such as `<s>` or `<|im_start|>` in the input. Default false. */
  parseSpecial?: boolean;
}

export interface DecodeOptions {
  /** Leave out control tokens (BOS, EOS, ...). Default true. */
  skipSpecial?: boolean;
}

export type TokenizerKind = "spm" | "bpe" | "wordpiece" | "hf";

export interface Tokenizer {
  readonly kind: TokenizerKind;
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  /** The model's chat template (tokenizer.chat_template), if it carries one. */
  readonly chatTemplate: string | undefined;
  encode(text: string, options?: EncodeOptions): number[];
  decode(ids: readonly number[], options?: DecodeOptions): string;
  /** The bytes one token stands for (control tokens: their text). */
  tokenBytes(id: number): Uint8Array;
  /** Control tokens (BOS, EOS, [CLS], <|im_start|>, ...). */
  isSpecial(id: number): boolean;
  /** Token id of an exact token text, or undefined. */
  tokenId(text: string): number | undefined;
}
