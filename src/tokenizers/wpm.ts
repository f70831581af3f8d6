// llama.cpp's WordPiece ("bert") tokenizer: NFD, drop controls, lowercase, split on whitespace,
// punctuation, ASCII symbols and CJK, then greedy longest match with U+2581 marking word starts.
// llama.cpp's "NFD" keeps only the first code point of each character's decomposition, so
// precomposed accents go (é → e); separate marks (\p{M}) are dropped as well.
import { toByteString, type ByteString, type Vocab } from "./vocab.js";

const PHANTOM_SPACE = toByteString("\u2581");

/** llama.cpp's whitespace set (unicode.cpp, unicode_ranges_whitespace). */
function isWhitespace(c: number): boolean {
  return (
    (c >= 0x09 && c <= 0x0d) ||
    c === 0x20 ||
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

function isChinese(c: number): boolean {
  return (
    (c >= 0x4e00 && c <= 0x9fff) ||
    (c >= 0x3400 && c <= 0x4dbf) ||
    (c >= 0x20000 && c <= 0x2a6df) ||
    (c >= 0x2a700 && c <= 0x2b73f) ||
    (c >= 0x2b740 && c <= 0x2b81f) ||
    (c >= 0x2b920 && c <= 0x2ceaf) ||
    (c >= 0xf900 && c <= 0xfaff) ||
    (c >= 0x2f800 && c <= 0x2fa1f)
  );
}

const CONTROL = /^\p{C}$/u;
const MARK = /^\p{M}$/u;
const PUNCT = /^\p{P}$/u;
const SYMBOL = /^\p{S}$/u;

/** Words of `text` as llama.cpp's llm_tokenizer_wpm_session::preprocess makes them. */
export function wpmWords(text: string): string[] {
  const words: string[] = [""];
  for (const original of text) {
    const c = original.normalize("NFD").codePointAt(0)!;
    const ch = String.fromCodePoint(c);
    if (isWhitespace(c)) {
      if (words.at(-1)!.length) words.push("");
      continue;
    }
    if (c === 0 || c === 0xfffd || CONTROL.test(ch) || MARK.test(ch)) continue;
    const lower = ch.toLowerCase();
    const low = [...lower].length === 1 ? lower : ch;
    if (PUNCT.test(ch) || (c < 0x7f && SYMBOL.test(ch)) || isChinese(low.codePointAt(0)!)) {
      if (words.at(-1)!.length) words.push("");
      words[words.length - 1] = low;
      words.push("");
      continue;
    }
    words[words.length - 1] += low;
  }
  if (words.at(-1) === "") words.pop();
  return words;
}

export function wpmTokenize(vocab: Vocab, text: ByteString, out: number[]): void {
  const words = wpmWords(Buffer.from(text, "latin1").toString("utf8"));
  for (const word of words) {
    const w = PHANTOM_SPACE + toByteString(word);
    const before = out.length;
    for (let i = 0; i < w.length; i++) {
      let matched = false;
      for (let j = Math.min(w.length, i + vocab.maxTokenBytes + 1); j > i; j--) {
        const id = vocab.ids.get(w.slice(i, j));
        if (id !== undefined) {
          out.push(id);
          matched = true;
          i = j - 1;
          break;
        }
      }
      if (!matched) {
        out.length = before;
        break;
      }
    }
    if (out.length === before && vocab.special.unk !== undefined) out.push(vocab.special.unk);
  }
}
