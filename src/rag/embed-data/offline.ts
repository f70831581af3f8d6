// Training pairs without a language model: title → passage (the title as the query for its text)
// and inverse cloze (one sentence of a passage as the query for the rest of it, Lee et al. 2019's
// ICT). The sentence is chosen by a seeded draw per passage id, so a pair does not depend on the
// order or the subset of passages it was made with. Leaves out ICT's "keep the sentence" variant.
import { createHash } from "node:crypto";
import { Rng } from "../../tensor/rng.js";
import { sentenceSpans } from "../split/sentence.js";
import type { Pair } from "./pairs.js";
import { passageText, type Passage } from "./passages.js";

export interface OfflinePairOptions {
  /** Title → passage pairs, for passages that have a title; default true. */
  title?: boolean;
  /** Inverse-cloze pairs, for passages of at least two sentences; default true. */
  inverseCloze?: boolean;
  /** Seed of the sentence draws; default 0. */
  seed?: number;
  /** Words a query sentence needs at least; default 4. */
  minQueryWords?: number;
  /** Language of sentence segmentation (Intl.Segmenter locale); default "en". */
  locale?: string;
}

const words = (s: string): number => s.split(/\s+/).filter(Boolean).length;

/** A per-passage seed: the run's seed mixed with the passage id. */
export function passageSeed(seed: number, id: string): number {
  return (createHash("sha256").update(`${seed}\0${id}`).digest().readUInt32LE(0) ^ seed) >>> 0;
}

/** The pairs one passage gives: its title pair, then its inverse-cloze pair (either may be absent). */
export function offlinePairsOf(p: Passage, options: OfflinePairOptions = {}): Pair[] {
  const out: Pair[] = [];
  const text = p.text.trim();
  if (options.title !== false && p.title && p.title.trim() !== "" && text !== "")
    out.push({ query: p.title.trim(), pos: [text], source: "title", pos_ids: [p.id] });
  if (options.inverseCloze !== false) {
    const spans = sentenceSpans(text, { start: 0, end: text.length }, options.locale ?? "en");
    const sentences = spans.map((s) => text.slice(s.start, s.end).trim()).filter((s) => s !== "");
    const minWords = options.minQueryWords ?? 4;
    const candidates = sentences.map((s, i) => i).filter((i) => words(sentences[i]!) >= minWords);
    if (sentences.length >= 2 && candidates.length > 0) {
      const rng = new Rng(passageSeed(options.seed ?? 0, p.id));
      const pick = candidates[Math.floor(rng.uniform() * candidates.length)]!;
      const rest = sentences.filter((_, i) => i !== pick).join(" ");
      out.push({
        query: sentences[pick]!,
        pos: [passageText({ ...p, text: rest })],
        source: "inverse-cloze",
        pos_ids: [p.id],
      });
    }
  }
  return out;
}

/** Offline pairs for every passage, in passage order. */
export function offlinePairs(passages: Iterable<Passage>, options: OfflinePairOptions = {}): Pair[] {
  const out: Pair[] = [];
  for (const p of passages) out.push(...offlinePairsOf(p, options));
  return out;
}
