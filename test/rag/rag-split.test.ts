// Splitters: exact character offsets for citations, size limits (characters, and tokens of a real
// WordPiece tokenizer), overlap, sentence boundaries, and Markdown heading paths.
import { readFileSync } from "node:fs";
import { Tokenizer } from "@huggingface/tokenizers";
import { describe, expect, it } from "vitest";
import { Splitter } from "../../src/rag/split/index.js";
import { markdownSections } from "../../src/rag/split/markdown.js";
import type { Chunk, LoadedDocument, TokenCounter } from "../../src/rag/types.js";
import { fixture } from "../helpers/fixtures.js";

const squad = JSON.parse(readFileSync(fixture("datasets/squad-v2-dev-subset/dev-v2.0.json"), "utf8")) as {
  data: { paragraphs: { context: string }[] }[];
};
const prose = squad.data[0]!.paragraphs.map((p) => p.context).join("\n\n");
const doc = (text: string, extra: Partial<LoadedDocument> = {}): LoadedDocument => ({
  source: "doc.md",
  text,
  metadata: {},
  ...extra,
});

function expectExactOffsets(d: LoadedDocument, chunks: Chunk[]): void {
  for (const c of chunks) {
    expect(d.text.slice(c.start, c.end)).toBe(c.text);
    expect(c.text).toBe(c.text.trim());
  }
}

describe("splitters", () => {
  it("recursive: chunks within size, exact offsets, overlapping neighbours, whole text covered", () => {
    const d = doc(prose);
    const chunks = new Splitter({ kind: "recursive", chunkSize: 400, overlap: 80 }).split(d);
    expect(chunks.length).toBeGreaterThan(prose.length / 400);
    expectExactOffsets(d, chunks);
    for (const c of chunks) expect(c.text.length).toBeLessThanOrEqual(400);
    // every non-space character is in some chunk
    const covered = new Uint8Array(prose.length);
    for (const c of chunks) covered.fill(1, c.start, c.end);
    for (let i = 0; i < prose.length; i++) if (!/\s/.test(prose[i]!)) expect(covered[i]).toBe(1);
    // neighbours overlap by whole pieces (sentences, words) of at most `overlap` characters
    const overlaps = chunks.slice(1).map((c, i) => chunks[i]!.end - c.start);
    expect(overlaps.filter((o) => o > 0).length).toBeGreaterThan(3);
    for (const o of overlaps) expect(o).toBeLessThanOrEqual(80);
    // ids are stable and distinct
    expect(new Splitter({ kind: "recursive", chunkSize: 400, overlap: 80 }).split(d).map((c) => c.id)).toEqual(
      chunks.map((c) => c.id),
    );
    expect(new Set(chunks.map((c) => c.id)).size).toBe(chunks.length);
  });

  it("recursive: falls back to hard cuts for text without separators", () => {
    const d = doc("x".repeat(1050));
    const chunks = new Splitter({ kind: "recursive", chunkSize: 100, overlap: 0 }).split(d);
    expect(chunks.map((c) => c.text.length)).toEqual([...Array(10).fill(100), 50]);
  });

  it("token: sizes chunks with the embedder's tokenizer (all-MiniLM-L6-v2 WordPiece)", () => {
    const dir = "models/all-MiniLM-L6-v2-tokenizer/";
    const tokenizer = new Tokenizer(
      JSON.parse(readFileSync(fixture(dir + "tokenizer.json"), "utf8")),
      JSON.parse(readFileSync(fixture(dir + "tokenizer_config.json"), "utf8")),
    );
    const counter: TokenCounter = { countTokens: (t) => tokenizer.encode(t, { add_special_tokens: false }).ids.length };
    const d = doc(prose);
    const chunks = new Splitter({ kind: "token", chunkSize: 64, overlap: 8 }, counter).split(d);
    expectExactOffsets(d, chunks);
    const sizes = chunks.map((c) => counter.countTokens(c.text));
    for (const n of sizes) expect(n).toBeLessThanOrEqual(64);
    expect(Math.max(...sizes)).toBeGreaterThan(48);
    expect(() => new Splitter({ kind: "token" })).toThrow(/needs the embedder's tokenizer/);
  });

  it("sentence: chunks end at sentence ends and never cut a sentence that fits", () => {
    const text =
      "The tide rises twice a day. Storms raise it further! Does the moon matter? Yes, it does. " +
      "Surges flood the quay. ".repeat(5);
    const d = doc(text.trim());
    const chunks = new Splitter({ kind: "sentence", chunkSize: 60, overlap: 0 }).split(d);
    expectExactOffsets(d, chunks);
    expect(chunks[0]!.text).toBe("The tide rises twice a day. Storms raise it further!");
    for (const c of chunks) expect(c.text).toMatch(/[.!?]$/);
  });

  it("markdown: heading paths per chunk, headings in code fences ignored, heading-only sections merged", () => {
    const text = [
      "Intro before any heading.",
      "# Guide",
      "## Install",
      "Run the installer.",
      "```sh",
      "# not a heading",
      "```",
      "### Linux",
      "Use the tarball.",
      "## Use",
      "Start it.",
    ].join("\n");
    const sections = markdownSections(text);
    expect(sections.map((s) => s.headingPath)).toEqual([
      [],
      ["Guide", "Install"],
      ["Guide", "Install", "Linux"],
      ["Guide", "Use"],
    ]);
    const d = doc(text, { page: 2, metadata: { lang: "en" } });
    const chunks = new Splitter({ kind: "markdown", chunkSize: 200, overlap: 0 }).split(d);
    expectExactOffsets(d, chunks);
    expect(chunks[1]!.text).toBe("# Guide\n## Install\nRun the installer.\n```sh\n# not a heading\n```");
    expect(chunks.map((c) => c.headingPath ?? [])).toEqual(sections.map((s) => s.headingPath));
    expect(chunks[3]).toMatchObject({ source: "doc.md", page: 2, metadata: { lang: "en" } });
  });

  it("validates its settings", () => {
    expect(() => new Splitter({ kind: "recursive", chunkSize: 100, overlap: 100 })).toThrow(/overlap/);
    expect(() => new Splitter({ kind: "nope" as "recursive" })).toThrow(/unknown splitter/);
    const one = new Splitter({ kind: "none" }).split(doc("  whole text  "));
    expect(one).toHaveLength(1);
    expect(one[0]).toMatchObject({ text: "whole text", start: 2, end: 12 });
  });
});
