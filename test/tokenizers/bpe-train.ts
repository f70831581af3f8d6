// A small byte-level BPE trainer (GPT-2 style: 256 byte symbols, merges by pair frequency) so
// the parity suite has a real "gpt2" vocabulary to give llama.cpp; none is in the fixtures.
import { GGUF_KEYS, TokenType, kv, type GgufKV } from "../../src/formats/gguf/index.js";
import { bytesToUnicode, preTokenize } from "../../src/tokenizers/bpe.js";

export const END_OF_TEXT = "<|endoftext|>";

export function trainByteLevelBpe(corpus: string, merges: number): { tokens: string[]; merges: string[] } {
  const table = bytesToUnicode();
  const freq = new Map<string, number>();
  for (const w of preTokenize(corpus, "gpt-2")) {
    const mapped = [...Buffer.from(w, "utf8")].map((b) => table[b]).join("\u0000");
    freq.set(mapped, (freq.get(mapped) ?? 0) + 1);
  }
  let words = [...freq].map(([w, n]) => ({ syms: w.split("\u0000"), n }));
  const tokens = [...table];
  const out: string[] = [];
  for (let m = 0; m < merges; m++) {
    const pairs = new Map<string, number>();
    for (const { syms, n } of words) {
      for (let i = 0; i + 1 < syms.length; i++) {
        const k = `${syms[i]} ${syms[i + 1]}`;
        pairs.set(k, (pairs.get(k) ?? 0) + n);
      }
    }
    let best: string | undefined;
    let bestN = 0;
    for (const [k, n] of pairs)
      if (n > bestN || (n === bestN && best !== undefined && k < best)) [best, bestN] = [k, n];
    if (!best) break;
    const [a, b] = best.split(" ") as [string, string];
    out.push(best);
    tokens.push(a + b);
    words = words.map(({ syms, n }) => {
      const next: string[] = [];
      for (let i = 0; i < syms.length; i++) {
        if (i + 1 < syms.length && syms[i] === a && syms[i + 1] === b) {
          next.push(a + b);
          i++;
        } else next.push(syms[i]!);
      }
      return { syms: next, n };
    });
  }
  return { tokens, merges: out };
}

/** GGUF tokenizer metadata for a trained vocabulary with `pre` as its pre-tokenizer. */
export function gpt2Vocab(trained: { tokens: string[]; merges: string[] }, pre: string): Map<string, GgufKV> {
  const tokens = [...trained.tokens, END_OF_TEXT];
  const eot = tokens.length - 1;
  return new Map([
    [GGUF_KEYS.tokenizerModel, kv.str("gpt2")],
    [GGUF_KEYS.tokenizerPre, kv.str(pre)],
    [GGUF_KEYS.tokens, kv.strs(tokens)],
    [GGUF_KEYS.tokenType, kv.i32s(tokens.map((_, i) => (i === eot ? TokenType.CONTROL : TokenType.NORMAL)))],
    [GGUF_KEYS.merges, kv.strs(trained.merges)],
    [GGUF_KEYS.bosId, kv.u32(eot)],
    [GGUF_KEYS.eosId, kv.u32(eot)],
  ]);
}
