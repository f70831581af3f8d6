// Tiny pairs for the embedding trainer's tests: each query names a topic word, its positive two other
// words the query never shares (so only training can link them), its negatives other pairs' passages.
import { writeFileSync } from "node:fs";
import type { EmbedPair } from "../../src/train/embed/pairs.js";

const WORDS = [
  "apple",
  "river",
  "mountain",
  "piano",
  "doctor",
  "garden",
  "winter",
  "castle",
  "engine",
  "forest",
  "ocean",
  "pencil",
  "silver",
  "thunder",
  "violin",
  "desert",
  "rocket",
  "bridge",
  "candle",
  "harbor",
  "island",
  "jacket",
  "kitchen",
  "ladder",
  "market",
  "needle",
  "orange",
  "planet",
  "rabbit",
  "saddle",
  "tunnel",
  "valley",
  "wagon",
  "yellow",
  "basket",
  "cotton",
  "dragon",
  "feather",
  "guitar",
  "hammer",
];

/** `n` pairs (n ≤ 13), each with `negatives` hard negatives taken from other pairs' positives. */
export function synthPairs(n: number, negatives: number): EmbedPair[] {
  const pos = (i: number) => `${WORDS[(i * 3 + 1) % WORDS.length]} ${WORDS[(i * 3 + 2) % WORDS.length]}`;
  return Array.from({ length: n }, (_, i) => ({
    query: `tell me about ${WORDS[(i * 3) % WORDS.length]}`,
    pos: [pos(i)],
    neg: Array.from({ length: negatives }, (_, k) => pos((i + 1 + k) % n)),
  }));
}

export function writePairs(file: string, pairs: EmbedPair[]): string {
  writeFileSync(file, pairs.map((p) => JSON.stringify(p)).join("\n") + "\n");
  return file;
}
