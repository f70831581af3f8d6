// Streaming detokenization: bytes of tokens arrive one at a time, text leaves only when its
// UTF-8 sequence is complete (a multi-byte character split across byte tokens waits).
import type { Tokenizer } from "./types.js";

export class StreamingDecoder {
  private readonly decoder = new TextDecoder("utf-8", { fatal: false });
  private first = true;

  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly options: { skipSpecial?: boolean } = {},
  ) {}

  /** Text completed by this token (may be ""). */
  push(id: number): string {
    if ((this.options.skipSpecial ?? true) && this.tokenizer.isSpecial(id)) return "";
    const bytes = this.tokenizer.tokenBytes(id);
    let text = this.decoder.decode(bytes, { stream: true });
    if (this.first && text.length > 0) {
      this.first = false;
      if (this.tokenizer.kind === "spm" && text.startsWith(" ")) text = text.slice(1);
    }
    return text;
  }

  /** Whatever is left (an incomplete sequence becomes U+FFFD). */
  flush(): string {
    return this.decoder.decode();
  }
}
