// Byte-level BPE ("gpt2") parity with llama.cpp for each pre-tokenizer we support, on a
// vocabulary trained here from fixture text (the fixtures hold no byte-level BPE vocabulary).
import { readFileSync, rmSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeGguf } from "../../src/formats/gguf/index.js";
import { GgufTokenizer } from "../../src/tokenizers/gguf-tokenizer.js";
import { oracle, disposeOracle } from "../formats/oracle.js";
import { tinyLlama } from "../formats/tiny-models.js";
import { fixture } from "../helpers/fixtures.js";
import { END_OF_TEXT, gpt2Vocab, trainByteLevelBpe } from "./bpe-train.js";
import { parityStrings } from "./strings.js";

const tmp = mkdtempSync(path.join(tmpdir(), "infuse-bpe-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const STRINGS = [...parityStrings(), `a${END_OF_TEXT}b`, "don't DON'T 12345678 x=1+2", "a\n\n  b\r\n"];
let trained: { tokens: string[]; merges: string[] };

beforeAll(() => {
  const alpaca = JSON.parse(readFileSync(fixture("datasets/alpaca/alpaca_data_1k.json"), "utf8")) as {
    output: string;
  }[];
  const vi = readFileSync(fixture("datasets/vi-alpaca/vi_alpaca_reduced_1.jsonl"), "utf8").slice(0, 60_000);
  trained = trainByteLevelBpe(
    alpaca
      .slice(0, 300)
      .map((r) => r.output)
      .join("\n") + vi,
    400,
  );
});
afterAll(disposeOracle);

describe.each(["default", "gpt-2", "llama-bpe", "qwen2", "smollm"])("byte-level BPE, pre %s", (pre) => {
  it("gives llama.cpp's token ids on every string", async () => {
    const md = gpt2Vocab(trained, pre);
    const file = path.join(tmp, `bpe-${pre}.gguf`);
    await writeGguf(
      file,
      tinyLlama({ vocabSize: trained.tokens.length + 1, embd: 32, ff: 32, heads: 2, kvHeads: 1, tokenizer: md }),
    );
    const model = await (await oracle()).loadModel({ modelPath: file, vocabOnly: true });
    const ours = new GgufTokenizer(md, file);
    try {
      for (const special of [false, true]) {
        const bad: string[] = [];
        for (const s of STRINGS) {
          const want = [...model.tokenize(s, special)];
          const got = ours.encode(s, { addSpecial: false, parseSpecial: special });
          if (want.join() !== got.join()) bad.push(`${JSON.stringify(s.slice(0, 60))}: [${want}] vs [${got}]`);
        }
        expect(bad.slice(0, 5), `parseSpecial=${special}: ${bad.length} differ`).toEqual([]);
      }
      const text = "Xin chào, world! 123";
      expect(ours.decode(ours.encode(text, { addSpecial: false }))).toBe(text);
    } finally {
      await model.dispose();
    }
  });
});

describe("byte-level BPE from tokenizer.json", () => {
  it("gives the GGUF path's ids (pre gpt-2) through @huggingface/tokenizers", async () => {
    const { HfJsonTokenizer } = await import("../../src/tokenizers/hf.js");
    const { ggufVocabFromTokenizerJson } = await import("../../src/formats/convert/vocab.js");
    const eot = trained.tokens.length;
    const json = {
      version: "1.0",
      added_tokens: [
        {
          id: eot,
          content: END_OF_TEXT,
          single_word: false,
          lstrip: false,
          rstrip: false,
          normalized: false,
          special: true,
        },
      ],
      normalizer: null,
      pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: null,
      decoder: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
      model: {
        type: "BPE",
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        vocab: Object.fromEntries(trained.tokens.map((t, i) => [t, i])),
        merges: trained.merges,
      },
    };
    const hf = new HfJsonTokenizer(json, {});
    const gguf = new GgufTokenizer(ggufVocabFromTokenizerJson(json as never, {}, { pre: "gpt-2" }));
    expect(gguf.kind).toBe("bpe");
    const bad = STRINGS.filter(
      (s) =>
        hf.encode(s, { addSpecial: false }).join() !== gguf.encode(s, { addSpecial: false, parseSpecial: true }).join(),
    );
    expect(bad).toEqual([]);
    const text = "Xin chào, world! 123";
    expect(hf.decode(hf.encode(text))).toBe(text);
  });
});
