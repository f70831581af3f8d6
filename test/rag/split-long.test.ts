// Splitting very long documents: a one-line text cut into more chunks than a push(...) spread
// takes, the sentence segmenter fed in windows (same sentences as one pass), and token splitting
// that never hands the tokenizer a span far longer than a chunk.
import { readFileSync } from "node:fs";
import { Tokenizer } from "@huggingface/tokenizers";
import { describe, expect, it } from "vitest";
import { Splitter } from "../../src/rag/split/index.js";
import { sentenceSpans } from "../../src/rag/split/sentence.js";
import type { LoadedDocument, TokenCounter } from "../../src/rag/types.js";
import { fixture } from "../helpers/fixtures.js";

const doc = (text: string): LoadedDocument => ({ source: "long.txt", text, metadata: {} });

describe("long documents", () => {
  it("cuts one huge line into 150,000 chunks at hard boundaries, offsets exact and contiguous", () => {
    const d = doc("Intro. " + "x".repeat(1_200_000));
    for (const kind of ["recursive", "markdown"] as const) {
      const chunks = new Splitter({ kind, chunkSize: 8, overlap: 0 }).split(d);
      expect(chunks.length).toBe(150_001);
      expect(chunks[0]!.text).toBe("Intro.");
      expect(chunks.slice(1).every((c, i) => c.start === 7 + 8 * i && c.text === d.text.slice(c.start, c.end))).toBe(
        true,
      );
      expect(chunks.every((c) => c.end - c.start <= 8)).toBe(true);
      expect(chunks.at(-1)!.end).toBe(d.text.length);
    }
  });

  it("segments sentences window by window exactly as one pass does", () => {
    const sentences = ["Tides rise twice a day.", "Why? The moon pulls!", "Xin chào, thế giới.", "Storms add surge."];
    let text = "";
    for (let i = 0; text.length < 12_000; i++) text += sentences[i % sentences.length] + " ";
    const whole = [...new Intl.Segmenter("en", { granularity: "sentence" }).segment(text)].map((s) => [
      s.index,
      s.index + s.segment.length,
    ]);
    const windowed = sentenceSpans(text, { start: 0, end: text.length }, "en", 1000).map((s) => [s.start, s.end]);
    expect(windowed.length).toBe(whole.length);
    expect(windowed).toEqual(whole);
  });

  it("splits a 1 MB text into sentences without a one-pass segmentation (quadratic in V8)", () => {
    const d = doc("Tides rise twice a day. Why? The moon pulls! ".repeat(24_000));
    const chunks = new Splitter({ kind: "sentence", chunkSize: 200, overlap: 0 }).split(d);
    expect(chunks.length).toBeGreaterThan(4000);
    expect(chunks.every((c) => c.text === d.text.slice(c.start, c.end) && c.text.length <= 200)).toBe(true);
  }, 120_000);

  it("token splitting never measures a span of more than 64 characters a token", () => {
    const dir = "models/all-MiniLM-L6-v2-tokenizer/";
    const tokenizer = new Tokenizer(
      JSON.parse(readFileSync(fixture(dir + "tokenizer.json"), "utf8")),
      JSON.parse(readFileSync(fixture(dir + "tokenizer_config.json"), "utf8")),
    );
    let longest = 0;
    const counter: TokenCounter = {
      countTokens: (t) => {
        longest = Math.max(longest, t.length);
        return tokenizer.encode(t, { add_special_tokens: false }).ids.length;
      },
    };
    const d = doc("The moon pulls the sea. ".repeat(10_000));
    const chunks = new Splitter({ kind: "token", chunkSize: 32, overlap: 4 }, counter).split(d);
    expect(chunks.length).toBeGreaterThan(1000);
    expect(longest).toBeLessThanOrEqual(32 * 64);
  });
});
