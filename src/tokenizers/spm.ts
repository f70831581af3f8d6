// llama.cpp's SentencePiece ("llama") tokenizer: split into UTF-8 characters, repeatedly merge
// the adjacent pair whose joined text is the highest-scoring token (ties: leftmost), then
// resegment unknown pieces into <0xXX> byte tokens. Leaves out unigram (UGM) models.
import { MaxHeap } from "./heap.js";
import type { ByteString, Vocab } from "./vocab.js";

interface Sym {
  start: number;
  n: number;
  prev: number;
  next: number;
}
interface Bigram {
  left: number;
  right: number;
  score: number;
  size: number;
}

const higher = (a: Bigram, b: Bigram) => a.score > b.score || (a.score === b.score && a.left < b.left);

function utf8Len(byte: number): number {
  const hi = byte >> 4;
  return hi < 0xc ? 1 : hi < 0xe ? 2 : hi === 0xe ? 3 : 4;
}

export function spmTokenize(vocab: Vocab, text: ByteString, out: number[]): void {
  const syms: Sym[] = [];
  for (let off = 0; off < text.length;) {
    const n = Math.min(text.length - off, utf8Len(text.charCodeAt(off)));
    syms.push({ start: off, n, prev: syms.length - 1, next: off + n < text.length ? syms.length + 1 : -1 });
    off += n;
  }
  const heap = new MaxHeap<Bigram>(higher);
  const revMerge = new Map<ByteString, [number, number]>();
  const tryAdd = (left: number, right: number) => {
    if (left === -1 || right === -1) return;
    const l = syms[left]!;
    const piece = text.substr(l.start, l.n + syms[right]!.n);
    const id = vocab.ids.get(piece);
    if (id === undefined) return;
    heap.push({ left, right, score: vocab.scores[id]!, size: piece.length });
    revMerge.set(piece, [left, right]);
  };
  for (let i = 1; i < syms.length; i++) tryAdd(i - 1, i);
  for (let b = heap.pop(); b; b = heap.pop()) {
    const l = syms[b.left]!;
    const r = syms[b.right]!;
    if (l.n === 0 || r.n === 0 || l.n + r.n !== b.size) continue; // outdated
    l.n += r.n;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) syms[r.next]!.prev = b.left;
    tryAdd(l.prev, b.left);
    tryAdd(b.left, l.next);
  }
  const resegment = (s: Sym) => {
    const piece = text.substr(s.start, s.n);
    const id = vocab.ids.get(piece);
    if (id !== undefined) {
      out.push(id);
      return;
    }
    const merged = revMerge.get(piece);
    if (merged) {
      resegment(syms[merged[0]]!);
      resegment(syms[merged[1]]!);
      return;
    }
    for (let j = 0; j < piece.length; j++) pushByte(vocab, piece.charCodeAt(j), out);
  };
  for (let i = syms.length ? 0 : -1; i !== -1; i = syms[i]!.next) resegment(syms[i]!);
}

/**
 * The <0xXX> token of a byte, else the byte as a one-character token. Where a vocabulary has
 * neither (llama.cpp aborts there) we emit the unknown token once per run, as Hugging Face's
 * byte-fallback BPE with fuse_unk does.
 */
function pushByte(vocab: Vocab, byte: number, out: number[]): void {
  const hex = `<0x${byte.toString(16).toUpperCase().padStart(2, "0")}>`;
  const id = vocab.ids.get(hex) ?? vocab.ids.get(String.fromCharCode(byte));
  if (id !== undefined) out.push(id);
  else if (vocab.special.unk !== undefined && out.at(-1) !== vocab.special.unk) out.push(vocab.special.unk);
}
