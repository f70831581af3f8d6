// llama.cpp's byte-level BPE ("gpt2") tokenizer: split words with the pre-tokenizer regexes
// named by tokenizer.ggml.pre, map bytes to GPT-2's printable code points, merge the lowest
// ranked pair first (ties: leftmost). Leaves out pre-tokenizers of other model families.
import { InfuseError } from "../core/errors.js";
import { MaxHeap } from "./heap.js";
import { toByteString, type ByteString, type Vocab } from "./vocab.js";

const GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
const LLAMA3 =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2 =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const DEFAULT = ["[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2, "\\p{N}+", "[0-9][0-9][0-9]"];

/** Pre-tokenizer regexes (applied in turn) and whether whole-word tokens skip merging. */
const PRE_TOKENIZERS: Record<string, { regexes: string[]; ignoreMerges: boolean }> = {
  default: { regexes: DEFAULT, ignoreMerges: false },
  "gpt-2": { regexes: [GPT2], ignoreMerges: false },
  "llama-bpe": { regexes: [LLAMA3], ignoreMerges: true },
  llama3: { regexes: [LLAMA3], ignoreMerges: true },
  qwen2: { regexes: [QWEN2], ignoreMerges: false },
  smollm: { regexes: ["\\p{N}", GPT2], ignoreMerges: false },
};

export const BPE_PRE_TOKENIZERS = Object.keys(PRE_TOKENIZERS);

let byteToUnicode: string[] | undefined;

/** GPT-2's byte → printable character table. */
export function bytesToUnicode(): string[] {
  if (byteToUnicode) return byteToUnicode;
  const table: string[] = new Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    table[b] = String.fromCodePoint(printable ? b : 256 + n++);
  }
  byteToUnicode = table;
  return table;
}

/** Splits text by each regex in turn; text between matches is kept as pieces, as llama.cpp does. */
export function preTokenize(text: string, pre: string): string[] {
  const spec = PRE_TOKENIZERS[pre];
  if (!spec) {
    throw new InfuseError("tokenizer.unsupported_pre", `tokenizer.ggml.pre "${pre}" is not supported`, {
      kind: "input",
      hint: `supported: ${BPE_PRE_TOKENIZERS.join(", ")}`,
    });
  }
  let pieces = [text];
  for (const source of spec.regexes) {
    const re = new RegExp(source, "gu");
    const next: string[] = [];
    for (const p of pieces) {
      let last = 0;
      for (const m of p.matchAll(re)) {
        if (m.index > last) next.push(p.slice(last, m.index));
        if (m[0].length) next.push(m[0]);
        last = m.index + m[0].length;
      }
      if (last < p.length) next.push(p.slice(last));
    }
    pieces = next;
  }
  return pieces;
}

interface Sym {
  text: string;
  prev: number;
  next: number;
}
interface Bigram {
  left: number;
  right: number;
  rank: number;
  size: number;
}

const lower = (a: Bigram, b: Bigram) => a.rank < b.rank || (a.rank === b.rank && a.left < b.left);

export class BpeModel {
  private readonly ranks = new Map<string, number>();
  private readonly ignoreMerges: boolean;
  constructor(private readonly vocab: Vocab) {
    vocab.merges.forEach((m, i) => {
      if (!this.ranks.has(m)) this.ranks.set(m, i);
    });
    this.ignoreMerges = PRE_TOKENIZERS[vocab.pre]?.ignoreMerges ?? false;
  }

  private id(text: string): number | undefined {
    return this.vocab.ids.get(toByteString(text));
  }

  tokenize(text: ByteString, out: number[]): void {
    const table = bytesToUnicode();
    for (const word of preTokenize(Buffer.from(text, "latin1").toString("utf8"), this.vocab.pre)) {
      let mapped = "";
      for (const b of Buffer.from(word, "utf8")) mapped += table[b];
      const whole = this.ignoreMerges ? this.id(mapped) : undefined;
      if (whole !== undefined) {
        out.push(whole);
        continue;
      }
      this.merge(mapped, out);
    }
  }

  private merge(word: string, out: number[]): void {
    const chars = [...word];
    const syms: Sym[] = chars.map((c, i) => ({ text: c, prev: i - 1, next: i + 1 < chars.length ? i + 1 : -1 }));
    const heap = new MaxHeap<Bigram>(lower);
    const tryAdd = (left: number, right: number) => {
      if (left === -1 || right === -1) return;
      const l = syms[left]!.text;
      const r = syms[right]!.text;
      const rank = this.ranks.get(`${l} ${r}`);
      if (rank !== undefined) heap.push({ left, right, rank, size: l.length + r.length });
    };
    for (let i = 1; i < syms.length; i++) tryAdd(i - 1, i);
    for (let b = heap.pop(); b; b = heap.pop()) {
      const l = syms[b.left]!;
      const r = syms[b.right]!;
      if (l.text.length === 0 || r.text.length === 0 || l.text.length + r.text.length !== b.size) continue;
      l.text += r.text;
      r.text = "";
      l.next = r.next;
      if (r.next >= 0) syms[r.next]!.prev = b.left;
      tryAdd(l.prev, b.left);
      tryAdd(b.left, l.next);
    }
    for (let i = syms.length ? 0 : -1; i !== -1; i = syms[i]!.next) {
      const s = syms[i]!.text;
      const id = this.id(s);
      if (id !== undefined) out.push(id);
      else for (const c of s) if (this.id(c) !== undefined) out.push(this.id(c)!);
    }
  }
}
