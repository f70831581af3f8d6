// Training templates and their Jinja equivalents (saved with an adapter as chat_template.jinja): an
// inference prompt rendered from the Jinja must be the very tokens training put before the response.
// Then tune → merge: the merged GGUF carries the template as tokenizer.chat_template.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { openGguf } from "../../src/formats/gguf/index.js";
import { encodeChat } from "../../src/models/chat.js";
import { CHAT_TEMPLATE_FILE, PLAIN_CHAT_TEMPLATE, readAdapterChatTemplate } from "../../src/models/chat-template.js";
import { generate } from "../../src/models/generate.js";
import { loadLlama } from "../../src/models/llama/load.js";
import { loadLora } from "../../src/models/lora/io.js";
import { GgufChatModel } from "../../src/rag/llm/gguf.js";
import { renderChatTemplate, type ChatMessage } from "../../src/tokenizers/chat.js";
import { promptIds } from "../../src/train/data/encode.js";
import type { TrainRecord } from "../../src/train/data/records.js";
import { fileTemplate, resolveTemplate, type Segment } from "../../src/train/data/templates.js";
import { mergeAdapter } from "../../src/train/merge.js";
import { tune } from "../../src/train/tune.js";
import { runCli } from "../helpers/cli.js";
import { fixture } from "../helpers/fixtures.js";
import { factRecords, QA_TEMPLATE, tempDir, writeJsonl } from "../train/helpers.js";

const STORIES = fixture("models/stories260K-gguf/stories260K.gguf");
const HF656K = fixture("models/tinystories-656k-hf");
const dir = tempDir("infuse-template-");
const SYSTEM = "Answer briefly.";
const chat = (turns: [string, string][], system = true): TrainRecord => ({
  kind: "chat",
  where: "test",
  messages: [
    ...(system ? [{ role: "system" as const, content: SYSTEM }] : []),
    ...turns.flatMap(([u, a]): ChatMessage[] => [
      { role: "user", content: u },
      { role: "assistant", content: a },
    ]),
  ],
});

describe("templates as Jinja", () => {
  for (const model of [STORIES, HF656K]) {
    it(`gives the prompt tokens training used (${path.basename(model)})`, async () => {
      const { tokenizer } = await loadLlama(model);
      // (a prompt that ends in a space is left out here: whether training's prompt kept the space token
      // depends on the answer's first word, which inference cannot know)
      const file = fileTemplate("### System: {system}\nQ: {instruction} {input}\nA:\n{output}\n", "qa.txt");
      const names = ["alpaca", "llama2", "chatml", "none"];
      const templates = [...(await Promise.all(names.map((n) => resolveTemplate(n, tokenizer)))), file];
      for (const t of templates) {
        for (const system of [true, false]) {
          const record = chat([["Where do penguins live? It's cold.", "In the Antarctic."]], system);
          const messages = record.kind === "chat" ? record.messages.filter((m) => m.role !== "assistant") : [];
          const ids = encodeChat(tokenizer, messages, { template: t.jinja });
          expect([t.name, tokenizer.decode(ids, { skipSpecial: false })]).toEqual([
            t.name,
            tokenizer.decode(promptIds(tokenizer, t, record), { skipSpecial: false }),
          ]);
          expect(ids).toEqual(promptIds(tokenizer, t, record));
        }
      }
    });
  }

  it("renders later turns as training wrote them (text, with BOS/EOS texts)", async () => {
    const { tokenizer } = await loadLlama(STORIES);
    const file = fileTemplate(QA_TEMPLATE + "\n", "qa.txt");
    for (const t of [
      ...(await Promise.all(["alpaca", "llama2", "chatml", "none"].map((n) => resolveTemplate(n, tokenizer)))),
      file,
    ]) {
      const record = chat([
        ["First question?", "First answer."],
        ["Second question?", "Second answer."],
      ]);
      // training's text up to the second response: EOS markers as "</s>", llama2's later BOS as "<s>"
      const segments: Segment[] = t.render(record);
      let text = ""; // the first BOS is the tokenizer's, as training encoded it
      let responses = 0;
      for (const s of segments) {
        if ("eos" in s) text += "</s>" + (t.bosPerTurn ? "<s>" : "");
        else if (s.train && ++responses === 2) break;
        else text += s.text;
      }
      const messages = record.kind === "chat" ? record.messages.slice(0, 4) : [];
      const rendered = renderChatTemplate(t.jinja, messages, { bosToken: "<s>", eosToken: "</s>" });
      expect([t.name, rendered]).toEqual([t.name, text]);
    }
  });

  it("the plain prompt is node-llama-cpp's general format", () => {
    const text = renderChatTemplate(PLAIN_CHAT_TEMPLATE, [
      { role: "system", content: "S" },
      { role: "user", content: "U" },
    ]);
    expect(text).toBe("S\n\n### Human\nU\n\n### Assistant\n");
  });
});

describe("tune saves the template; merge writes it into the GGUF", () => {
  it("chat_template.jinja beside the adapter → tokenizer.chat_template in the merged model", async () => {
    const data = writeJsonl(path.join(dir, "fact.jsonl"), factRecords(8));
    const template = path.join(dir, "qa.txt");
    writeFileSync(template, QA_TEMPLATE);
    const out = path.join(dir, "adapter");
    const result = await tune({
      model: STORIES,
      data: [{ path: data }],
      out,
      template,
      maxSteps: 1,
      batchSize: 4,
      rank: 2,
    });
    expect(result.files).toContain(path.join(out, CHAT_TEMPLATE_FILE));
    const jinja = readFileSync(path.join(out, CHAT_TEMPLATE_FILE), "utf8");
    expect(jinja).toBe(fileTemplate(QA_TEMPLATE, template).jinja);
    expect(await readAdapterChatTemplate(out)).toBe(jinja);
    const merged = path.join(dir, "merged.gguf");
    const m = await mergeAdapter(STORIES, out, merged);
    expect(m.template).toBe(true);
    const gguf = await openGguf(merged);
    try {
      expect(gguf.get("tokenizer.chat_template")).toBe(jinja);
    } finally {
      gguf.close();
    }
    // llama.cpp (node-llama-cpp) prompts the merged model with it too
    const cpp = await GgufChatModel.load("merged", merged);
    try {
      expect([cpp.hasChatTemplate, cpp.promptFormat]).toEqual([true, "JinjaTemplate"]);
      let text = "";
      for await (const piece of cpp.chat([{ role: "user", content: "Name the dragon." }], { maxTokens: 6 }))
        text += piece;
      expect(text.length).toBeGreaterThan(0);
    } finally {
      await cpp.dispose();
    }
    // the merged model's tokenizer now prompts as training did (for an answer whose first word does
    // not absorb the space before it in this vocabulary)
    const { tokenizer } = await loadLlama(merged);
    expect(tokenizer.chatTemplate).toBe(jinja);
    expect(encodeChat(tokenizer, [{ role: "user", content: "What is the dragon called?" }])).toEqual(
      promptIds(tokenizer, fileTemplate(QA_TEMPLATE, template), {
        kind: "instruction",
        instruction: "What is the dragon called?",
        input: "",
        output: "Zib is the dragon.",
        where: "t",
      }),
    );
  });

  it("generate --chat --adapter prompts with the adapter's template", async () => {
    const out = path.join(dir, "adapter");
    const r = await runCli([
      "generate",
      STORIES,
      "--chat",
      "Name the dragon.",
      "--adapter",
      out,
      "--temperature",
      "0",
      "-n",
      "8",
      "--json",
    ]);
    expect(r.code).toBe(0);
    const got = JSON.parse(r.stdout) as { text: string; chat_template: string };
    expect(got.chat_template).toBe("adapter");
    const loaded = await loadLlama(STORIES);
    await loadLora(loaded.model, out);
    const jinja = readFileSync(path.join(out, CHAT_TEMPLATE_FILE), "utf8");
    const ids = encodeChat(loaded.tokenizer, [{ role: "user", content: "Name the dragon." }], { template: jinja });
    expect(got.text).toBe((await generate(loaded.model, loaded.tokenizer, ids, { temperature: 0, maxTokens: 8 })).text);
  });

  it("reads a template from tokenizer_config.json when there is no chat_template.jinja", async () => {
    const d = tempDir("infuse-tplcfg-");
    writeFileSync(
      path.join(d, "tokenizer_config.json"),
      JSON.stringify({ chat_template: "{{ messages[0]['content'] }}" }),
    );
    expect(await readAdapterChatTemplate(d)).toBe("{{ messages[0]['content'] }}");
    expect(await readAdapterChatTemplate(tempDir("infuse-empty-"))).toBeUndefined();
  });
});
