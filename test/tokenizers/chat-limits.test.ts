// Chat templates come with downloaded model files: a hostile one (a huge range(), a loop without
// end, output that doubles) fails with chat_template.limit instead of exhausting memory.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { isInfuseError } from "../../src/core/errors.js";
import { GGUF_KEYS, kv } from "../../src/formats/gguf/index.js";
import { readAdapterChatTemplate } from "../../src/models/chat-template.js";
import { applyChatTemplate, GgufTokenizer, renderChatTemplate, type ChatMessage } from "../../src/tokenizers/index.js";
import { PARITY_VOCABS } from "./vocabs.js";

const messages: ChatMessage[] = [{ role: "user", content: "hello there" }];

function limitOf(render: () => unknown): unknown {
  try {
    render();
  } catch (e) {
    if (isInfuseError(e) && e.code === "chat_template.limit" && e.kind === "input") return e.details["limit"];
    throw e;
  }
  throw new Error("the template rendered");
}

describe("chat template limits", () => {
  it("a tokenizer_config.json template asking for range(100000000) is refused before the list is built", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "infuse-chat-limits-"));
    const template = "{% for i in range(100000000) %}{{ i }}{% endfor %}{{ messages[0].content }}";
    writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify({ chat_template: template }));
    const read = await readAdapterChatTemplate(dir);
    expect(limitOf(() => renderChatTemplate(read!, messages))).toBe("range");
  });

  it("a GGUF's template with nested loops stops at the step budget", async () => {
    const md = await PARITY_VOCABS.find((v) => v.name.startsWith("Llama-2"))!.metadata();
    md.set(
      GGUF_KEYS.chatTemplate,
      kv.str("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"),
    );
    expect(limitOf(() => applyChatTemplate(new GgufTokenizer(md), messages))).toBe("steps");
  }, 60_000);

  it("output that doubles each pass stops at limits.templateMaxChars", () => {
    const doubling =
      "{% set ns = namespace(s=messages[0].content) %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}";
    expect(limitOf(() => renderChatTemplate(doubling, messages, { maxChars: 100_000 }))).toBe(
      "limits.templateMaxChars",
    );
    const repeated = "{% for i in range(5000) %}{{ messages[0].content }}{% endfor %}";
    expect(limitOf(() => renderChatTemplate(repeated, messages, { maxChars: 10_000 }))).toBe("limits.templateMaxChars");
    expect(renderChatTemplate(repeated, messages, { maxChars: 100_000 })).toHaveLength(5000 * 11);
    expect(limitOf(() => renderChatTemplate("x".repeat(200), messages, { maxChars: 100 }))).toBe(
      "limits.templateMaxChars",
    );
  });

  it("keeps what templates use: range with a step, raise_exception, strftime_now, loop variables", () => {
    const t =
      "{% for i in range(10, 0, -3) %}{{ i }},{% endfor %}{{ strftime_now('%Y')|length }}" +
      "{% for m in messages %}{{ loop.index }}:{{ m.content }}{% endfor %}";
    expect(renderChatTemplate(t, messages)).toBe("10,7,4,1,41:hello there");
    expect(() => renderChatTemplate("{{ raise_exception('no system role') }}", messages)).toThrow(/no system role/);
  });
});
