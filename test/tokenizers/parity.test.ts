// Token ids equal llama.cpp's (node-llama-cpp model.tokenize) on the fixed string set for four
// real vocabularies, with and without special-token parsing; and the tokenizer.json path gives
// the GGUF path's ids for the same vocabulary.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Token } from "node-llama-cpp";
import { afterAll, describe, expect, it } from "vitest";
import { GgufTokenizer } from "../../src/tokenizers/gguf-tokenizer.js";
import { loadHfTokenizer } from "../../src/tokenizers/hf.js";
import { fixture } from "../helpers/fixtures.js";
import { oracle, disposeOracle } from "../formats/oracle.js";
import { parityStrings } from "./strings.js";
import { PARITY_VOCABS } from "./vocabs.js";

const tmp = mkdtempSync(path.join(tmpdir(), "infuse-parity-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const STRINGS = parityStrings();
afterAll(disposeOracle);

function mismatches(strings: string[], a: (s: string) => number[], b: (s: string) => number[]): string[] {
  const out: string[] = [];
  for (const s of strings) {
    const x = a(s);
    const y = b(s);
    if (x.length !== y.length || x.some((v, i) => v !== y[i])) out.push(`${JSON.stringify(s)}: [${x}] vs [${y}]`);
  }
  return out;
}

describe("the parity string set", () => {
  it("has at least 200 strings of every kind", () => {
    expect(STRINGS.length).toBeGreaterThanOrEqual(200);
    expect(STRINGS).toContain("");
    for (const re of [/\p{Script=Han}/u, /[ăâđêôơư]/u, /\p{Extended_Pictographic}/u, /  +/, /\{|;/]) {
      expect(STRINGS.some((s) => re.test(s))).toBe(true);
    }
  });
});

describe.each(PARITY_VOCABS)("$name", (vocab) => {
  it("gives llama.cpp's token ids on every string", async () => {
    const file = await vocab.write(tmp);
    const model = await (await oracle()).loadModel({ modelPath: file, vocabOnly: true });
    const ours = new GgufTokenizer(await vocab.metadata(), file);
    try {
      for (const special of [false, true]) {
        const bad = mismatches(
          STRINGS,
          (s) => [...model.tokenize(s, special)],
          (s) => ours.encode(s, { addSpecial: false, parseSpecial: special }),
        );
        expect(bad, `parseSpecial=${special}`).toEqual([]);
      }
      // Decoding agrees with llama.cpp's detokenizer on text the vocabulary covers (llama.cpp
      // keeps WordPiece's leading space; we drop it, as Hugging Face does).
      for (const s of ["Hello world", "Once upon a time there was a girl", "it is 42"]) {
        const ids = ours.encode(s, { addSpecial: false });
        expect(ours.decode(ids)).toBe(
          model.detokenize(ids as Token[]).replace(ours.kind === "wordpiece" ? /^ / : /^$/, ""),
        );
      }
    } finally {
      await model.dispose();
    }
  });

  if (vocab.hfDir) {
    it("gives the same ids from tokenizer.json as from the GGUF vocabulary", async () => {
      const hf = await loadHfTokenizer(fixture(vocab.hfDir!));
      const gguf = new GgufTokenizer(await (vocab.hfMetadata ?? vocab.metadata)());
      // Known, documented divergences of llama.cpp from Hugging Face (not of ours from llama.cpp):
      // - special-token texts inside TinyStories input (HF matches them on normalized text);
      // - WordPiece on Hangul syllables and spacing marks (llama.cpp keeps one code point of a
      //   decomposition and drops \p{Mc}; BertNormalizer keeps all jamo and Mc).
      const diverges = (s: string) =>
        /<\|(start|end)_story\|>/.test(s) || (gguf.kind === "wordpiece" && /[\p{Script=Hangul}\p{Mc}]/u.test(s));
      const compared = STRINGS.filter((s) => !diverges(s));
      expect(STRINGS.length - compared.length).toBeLessThanOrEqual(3);
      for (const addSpecial of [false, true]) {
        const bad = mismatches(
          compared,
          (s) => hf.encode(s, { addSpecial }),
          (s) => gguf.encode(s, { addSpecial, parseSpecial: true }),
        );
        expect(bad, `addSpecial=${addSpecial}`).toEqual([]);
      }
    });
  }
});
