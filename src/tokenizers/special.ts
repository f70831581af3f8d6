// Splits text into raw fragments and special tokens before the tokenizer model runs, as
// llama.cpp's tokenizer_st_partition does: longest special first, every occurrence.
import { TokenType } from "../formats/gguf/keys.js";
import type { ByteString, Vocab } from "./vocab.js";

export type Fragment = { token: number } | { text: ByteString };

/**
 * With `parseSpecial` false only user-defined tokens are split out (control and unknown tokens
 * stay text), as llama.cpp does.
 */
export function partitionSpecial(
  vocab: Vocab,
  text: ByteString,
  parseSpecial: boolean,
  specials: number[],
): Fragment[] {
  let fragments: Fragment[] = [{ text }];
  for (const id of specials) {
    const type = vocab.types[id];
    if (!parseSpecial && (type === TokenType.CONTROL || type === TokenType.UNKNOWN)) continue;
    const needle = vocab.bytes[id]!;
    if (needle.length === 0) continue;
    const next: Fragment[] = [];
    for (const f of fragments) {
      if (!("text" in f) || !f.text.includes(needle)) {
        next.push(f);
        continue;
      }
      let from = 0;
      for (;;) {
        const at = f.text.indexOf(needle, from);
        if (at < 0) break;
        if (at > from) next.push({ text: f.text.slice(from, at) });
        next.push({ token: id });
        from = at + needle.length;
      }
      if (from < f.text.length) next.push({ text: f.text.slice(from) });
    }
    fragments = next;
  }
  return fragments;
}
