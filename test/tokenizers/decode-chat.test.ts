// Decoding (round trips, streaming with partial UTF-8), chat templates rendered from the model,
// and loadTokenizer over GGUF files and model folders.
import { describe, expect, it } from "vitest";
import { GGUF_KEYS, kv } from "../../src/formats/gguf/index.js";
import {
  GgufTokenizer,
  StreamingDecoder,
  applyChatTemplate,
  loadTokenizer,
  renderChatTemplate,
  type ChatMessage,
} from "../../src/tokenizers/index.js";
import { fixture } from "../helpers/fixtures.js";
import { parityStrings } from "./strings.js";
import { PARITY_VOCABS } from "./vocabs.js";

const llama2 = PARITY_VOCABS.find((v) => v.name.startsWith("Llama-2"))!;

describe("decode", () => {
  it("round-trips every parity string through the Llama-2 vocabulary (byte fallback is lossless)", async () => {
    const tok = new GgufTokenizer(await llama2.metadata());
    const lossy = parityStrings().filter((s) => tok.decode(tok.encode(s)) !== s);
    expect(lossy).toEqual([]);
  });

  it("streams text only when a UTF-8 sequence is complete", async () => {
    const tok = new GgufTokenizer(await llama2.metadata());
    const text = "Xin chào 😀 你好 🇻🇳!";
    const ids = tok.encode(text);
    const stream = new StreamingDecoder(tok);
    const pieces = ids.map((id) => stream.push(id));
    expect(pieces.join("") + stream.flush()).toBe(text);
    // The emoji arrive as 4 byte tokens: the first three yield nothing, the fourth the whole emoji.
    const emoji = pieces.indexOf("😀");
    expect(emoji).toBeGreaterThan(2);
    expect(pieces.slice(emoji - 3, emoji)).toEqual(["", "", ""]);
    expect(pieces[0]).toBe(""); // BOS is skipped
  });

  it("decodes WordPiece and byte-fallback BPE the way their vocabularies spell words", async () => {
    const bert = new GgufTokenizer(await PARITY_VOCABS.find((v) => v.name.startsWith("all-MiniLM"))!.metadata());
    expect(bert.decode(bert.encode("Hello world, unbelievable!"))).toBe("hello world , unbelievable !");
    const ts = new GgufTokenizer(await PARITY_VOCABS.find((v) => v.name.startsWith("TinyStories"))!.metadata());
    expect(ts.decode(ts.encode("Once upon a time"))).toBe("Once upon a time");
  });
});

describe("chat templates", () => {
  const CHATML =
    "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{% endfor %}" +
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  const LLAMA2 =
    "{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}{{ '[INST] ' + m.content + ' [/INST]' }}" +
    "{% else %}{{ ' ' + m.content + eos_token }}{% endif %}{% endfor %}";
  const messages: ChatMessage[] = [
    { role: "system", content: "Be brief." },
    { role: "user", content: "Xin chào!" },
  ];

  it("renders a ChatML template with the generation prompt", () => {
    expect(renderChatTemplate(CHATML, messages)).toBe(
      "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nXin chào!<|im_end|>\n<|im_start|>assistant\n",
    );
    expect(renderChatTemplate(CHATML, messages, { addGenerationPrompt: false })).not.toContain("assistant");
  });

  it("reads the template and BOS/EOS texts from the model", async () => {
    const md = await llama2.metadata();
    md.set(GGUF_KEYS.chatTemplate, kv.str(LLAMA2));
    const tok = new GgufTokenizer(md);
    const prompt = applyChatTemplate(tok, [
      { role: "user", content: "hi" },
      { role: "assistant", content: "hello" },
    ]);
    expect(prompt).toBe("<s>[INST] hi [/INST] hello</s>");
    expect(tok.encode(prompt, { addSpecial: false, parseSpecial: true })[0]).toBe(1);
    const plain = new GgufTokenizer(await llama2.metadata());
    expect(() => applyChatTemplate(plain, messages)).toThrow(/no chat template/);
    expect(() => renderChatTemplate("{% for %}", messages)).toThrow(/does not parse/);
  });
});

describe("loadTokenizer", () => {
  it("builds the right tokenizer from a GGUF, a tokenizer.json folder and a tokenizer.model folder", async () => {
    const gguf = await loadTokenizer(fixture("models/stories260K-gguf/stories260K.gguf"));
    expect(gguf.kind).toBe("spm");
    expect(gguf.encode("Hello world")).toEqual([1, 346, 306, 414, 263, 304, 341]);
    const hf = await loadTokenizer(fixture("models/all-MiniLM-L6-v2-tokenizer"));
    expect(hf.kind).toBe("hf");
    expect(hf.encode("Hello world")).toEqual([101, 7592, 2088, 102]);
    const sp = await loadTokenizer(fixture("models/llama2c-tokenizer"));
    expect(sp.kind).toBe("spm");
    expect(sp.encode("Hello world")).toEqual([1, 15043, 3186]);
    await expect(loadTokenizer(fixture("datasets/alpaca"))).rejects.toThrow(
      /no GGUF, tokenizer.json or tokenizer.model/,
    );
  });
});
