// `eval answers` comparing a base model and the same model with an adapter (both in infuse's engine),
// closed-book and with retrieval, in one report, on SQuAD-v2-shaped data with an unanswerable question.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadConfig, type ResolvedConfig } from "../../src/core/config.js";
import { renderAnswersHtml } from "../../src/eval/report-html.js";
import { CLOSED_BOOK_SYSTEM_PROMPT, evaluateAnswers } from "../../src/eval/run-answers.js";
import { encodeChat } from "../../src/models/chat.js";
import { chooseChatTemplate, readAdapterChatTemplate } from "../../src/models/chat-template.js";
import { generate } from "../../src/models/generate.js";
import { loadLlama } from "../../src/models/llama/load.js";
import { loadLora } from "../../src/models/lora/io.js";
import { tune } from "../../src/train/tune.js";
import { fixture } from "../helpers/fixtures.js";
import { factRecords, QA_TEMPLATE, tempDir, writeJsonl } from "../train/helpers.js";

const STORIES = fixture("models/stories260K-gguf/stories260K.gguf");
const dir = tempDir("infuse-compare-");
let config: ResolvedConfig;
let adapter: string;
let data: string;

const squad = {
  version: "v2.0",
  data: [
    {
      title: "Toys",
      paragraphs: [
        {
          context: "Lily had a red ball. She played with it in the park.",
          qas: [
            {
              id: "q1",
              question: "What color was the ball?",
              answers: [{ text: "red", answer_start: 10 }],
              is_impossible: false,
            },
            {
              id: "q2",
              question: "What was the name of the dog Lily had in the park?",
              answers: [],
              plausible_answers: [{ text: "Lily", answer_start: 0 }],
              is_impossible: true,
            },
          ],
        },
        {
          context: "Tim saw a big fish in the pond.",
          qas: [
            {
              id: "q3",
              question: "Where was the fish?",
              answers: [{ text: "in the pond", answer_start: 19 }],
              is_impossible: false,
            },
          ],
        },
      ],
    },
  ],
};

beforeAll(async () => {
  config = await loadConfig({
    cwd: dir,
    env: { INFUSE_HOME: path.join(dir, "home"), INFUSE_CACHE: path.join(dir, "c") },
  });
  data = path.join(dir, "dev-v2.json");
  writeFileSync(data, JSON.stringify(squad));
  const template = path.join(dir, "qa.txt");
  writeFileSync(template, QA_TEMPLATE);
  adapter = path.join(dir, "adapter");
  const train = writeJsonl(path.join(dir, "fact.jsonl"), factRecords(16));
  await tune({
    model: STORIES,
    data: [{ path: train }],
    out: adapter,
    template,
    maxSteps: 3,
    batchSize: 4,
    rank: 4,
    lr: 2e-2,
  });
}, 60_000);

describe("eval answers comparisons", () => {
  it("closed-book and RAG, base and tuned, side by side; unanswerable questions scored", async () => {
    const base = `engine:${STORIES}`;
    const tuned = `engine:${STORIES}+${adapter}`;
    const r = await evaluateAnswers({
      data,
      config,
      llm: [base, tuned],
      settings: ["closed-book", "rag"],
      maxTokens: 12,
      recipe: { top_k: 2 },
    });
    expect(r.items).toBe(3);
    expect(r.unanswerable).toBe(1);
    expect(r.configurations.map((c) => `${c.setting} · ${c.llm}`)).toEqual([
      `closed-book · ${base}`,
      `closed-book · ${tuned}`,
      `rag · ${base}`,
      `rag · ${tuned}`,
    ]);
    for (const c of r.configurations) {
      expect(c.rows.map((row) => row.id)).toEqual(["q1", "q2", "q3"]);
      expect(c.answers.generative).toBe(3); // BM25 finds a passage for each question and every prompt fits stories260K's context
      expect(c.no_answer?.questions).toBe(1);
      expect(c.has_answer?.questions).toBe(2);
      const q2 = c.rows[1]!;
      expect(q2.references).toEqual([]);
      expect([q2.exact_match, q2.f1, q2.cosine]).toEqual(q2.abstained ? [1, 1, 1] : [0, 0, 0]);
    }
    expect(r.configurations.slice(2).every((c) => c.answer_in_context !== undefined)).toBe(true);
    expect(r.configurations[0]!.answer_in_context).toBeUndefined();
    // the tuned closed-book answer is the adapter's, prompted with its saved template, at most 12 tokens
    const loaded = await loadLlama(STORIES);
    await loadLora(loaded.model, adapter);
    const chosen = chooseChatTemplate(loaded.tokenizer, await readAdapterChatTemplate(adapter));
    expect(chosen.source).toBe("adapter");
    const ids = encodeChat(
      loaded.tokenizer,
      [
        { role: "system", content: CLOSED_BOOK_SYSTEM_PROMPT },
        { role: "user", content: "What color was the ball?" },
      ],
      { template: chosen.template },
    );
    const expected = await generate(loaded.model, loaded.tokenizer, ids, { temperature: 0, maxTokens: 12 });
    expect(r.configurations[1]!.rows[0]!.answer).toBe(expected.text.trim());
    const html = renderAnswersHtml(r);
    for (const c of r.configurations) expect(html).toContain(c.name.replace(/&/g, "&amp;"));
    expect(html).toContain("unanswerable abstained");
  });

  it("a stopped run returns the configurations it finished", async () => {
    const ctl = new AbortController();
    const r = await evaluateAnswers({
      data,
      config,
      llm: `engine:${STORIES}`,
      adapter,
      settings: ["closed-book", "rag"],
      maxTokens: 4,
      signal: ctl.signal,
      onConfiguration: () => ctl.abort(),
    });
    expect(r.interrupted).toBe(true);
    expect(r.configurations.map((c) => c.llm)).toEqual([`engine:${STORIES}+${adapter}`]);
    // the column title keeps the last part of each path
    expect(r.configurations[0]!.name).toBe(`closed-book · engine:stories260K.gguf+${path.basename(adapter)}`);
  });

  it("refuses closed-book without a model and --judge with several", async () => {
    await expect(evaluateAnswers({ data, config, settings: ["closed-book"] })).rejects.toMatchObject({
      code: "eval.closed_book_needs_llm",
    });
    await expect(
      evaluateAnswers({ data, config, llm: [`engine:${STORIES}`, STORIES], judge: true }),
    ).rejects.toMatchObject({ code: "eval.judge_needs_llm" });
  });
});
