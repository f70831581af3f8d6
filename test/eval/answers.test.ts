// Answer metrics on hand-worked examples (SQuAD's EM/F1 rules, ROUGE-L F1 by longest common
// subsequence), the judge's parsing rules on fixed replies, and the QA data loader on real files.
import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  cosine,
  exactMatch,
  isAbstention,
  lcsLength,
  normalizeAnswer,
  rougeL,
  scoreAnswer,
  tokenF1,
} from "../../src/eval/answers.js";
import { judgePrompt, parseJudgment } from "../../src/eval/judge.js";
import { loadQaData } from "../../src/eval/qa-data.js";
import { renderMetricsHtml } from "../../src/eval/report-html.js";
import { answerInContext } from "../../src/eval/run-answers.js";
import { fixture } from "../helpers/fixtures.js";

describe("exact match and token F1 (SQuAD rules)", () => {
  it("normalises case, punctuation and articles", () => {
    expect(normalizeAnswer("The  Eiffel Tower!")).toBe("eiffel tower");
    expect(exactMatch("the Eiffel tower", ["Louvre", "Eiffel Tower"])).toBe(1);
    expect(exactMatch("Eiffel", ["Eiffel Tower"])).toBe(0);
  });

  it("computes F1 over tokens with multiplicity, best reference wins", () => {
    // pred {in, paris, france}, ref {paris}: P = 1/3, R = 1 → 2·(1/3)/(4/3) = 0.5
    expect(tokenF1("in Paris, France", ["Paris"])).toBeCloseTo(0.5, 12);
    // pred {x, y, y}, ref {y, y, z}: 2 common → P = R = 2/3
    expect(tokenF1("x y y", ["y y z"])).toBeCloseTo(2 / 3, 12);
    expect(tokenF1("x y y", ["q", "y y z"])).toBeCloseTo(2 / 3, 12);
    expect(tokenF1("the", [""])).toBe(1); // both empty after normalisation
    expect(tokenF1("paris", ["the"])).toBe(0);
  });
});

describe("answerInContext", () => {
  it("finds a normalised reference as whole words in the passages", () => {
    expect(answerInContext(["the Eiffel Tower"], ["Paris has an Eiffel tower.", "x"])).toBe(1);
    expect(answerInContext(["Louvre"], ["Paris has an Eiffel tower."])).toBe(0);
    expect(answerInContext(["tow"], ["a tower"])).toBe(0);
    expect(answerInContext(["the"], ["the tower"])).toBe(0); // empty after normalisation
  });
});

describe("ROUGE-L", () => {
  it("is the F1 of the longest common subsequence", () => {
    expect(lcsLength(["a", "b", "c", "d"], ["b", "d", "a"])).toBe(2);
    // LCS "the cat on the mat" = 5 of 6 tokens each side
    expect(rougeL("The cat sat on the mat.", ["the cat lay on the mat"])).toBeCloseTo(5 / 6, 12);
    // pred 2 tokens, ref 4, LCS 2: P = 1, R = 1/2 → 2/3
    expect(rougeL("black tea", ["tea is black tea"])).toBeCloseTo(2 / 3, 12);
    expect(rougeL("", ["x"])).toBe(0);
  });

  it("cosine of vectors", () => {
    expect(cosine(Float32Array.from([1, 0]), Float32Array.from([1, 1]))).toBeCloseTo(Math.SQRT1_2, 6);
    expect(cosine(Float32Array.from([0, 0]), Float32Array.from([1, 1]))).toBe(0);
  });
});

describe("parseJudgment", () => {
  it("reads the JSON we ask for, also inside other text", () => {
    expect(parseJudgment('{"score": 4, "reason": "Mostly supported."}')).toMatchObject({
      score: 4,
      reason: "Mostly supported.",
    });
    expect(parseJudgment('Sure! {"score": 5, "reason": "ok"} Hope this helps').score).toBe(5);
  });

  it("reads labelled and N/5 grades and keeps the rest as the reason", () => {
    expect(parseJudgment("Score: 3. The answer is partly relevant.")).toMatchObject({
      score: 3,
      reason: "The answer is partly relevant.",
    });
    expect(parseJudgment("4/5 - clear")).toMatchObject({ score: 4, reason: "clear" });
    expect(parseJudgment("I would give it a 2").score).toBe(2);
  });

  it("gives no grade when none in 1–5 is there", () => {
    expect(parseJudgment("excellent").score).toBeUndefined();
    expect(parseJudgment('{"score": 9}').score).toBeUndefined();
    expect(parseJudgment("excellent").reason).toBe("excellent");
  });

  it("shows the context only to the faithfulness judge", () => {
    const input = { question: "q?", answer: "a.", context: ["passage one"] };
    expect(judgePrompt("faithfulness", input)[1]!.content).toContain("[1] passage one");
    expect(judgePrompt("coherence", input)[1]!.content).not.toContain("passage one");
  });
});

describe("unanswerable questions (SQuAD v2 rule, abstentions as the empty answer)", () => {
  it("detects abstentions", () => {
    for (const a of [
      "",
      "  .",
      "I do not know.",
      "I don't know",
      "The passages do not mention it.",
      "Unknown",
      "It cannot be answered from the context.",
      "There is no information about a dog.",
    ])
      expect([a, isAbstention(a)]).toEqual([a, true]);
    for (const a of ["Paris", "red", "It is known as Zib.", "Notre Dame"])
      expect([a, isAbstention(a)]).toEqual([a, false]);
  });

  it("scores 1 for an abstention and 0 otherwise on an unanswerable question; normally otherwise", () => {
    expect(scoreAnswer("I don't know.", [])).toEqual({ exact_match: 1, f1: 1, rouge_l: 1, abstained: true });
    expect(scoreAnswer("", [""])).toEqual({ exact_match: 1, f1: 1, rouge_l: 1, abstained: true });
    expect(scoreAnswer("Lily", [])).toEqual({ exact_match: 0, f1: 0, rouge_l: 0, abstained: false });
    // an abstention on an answerable question scores as any wrong answer
    expect(scoreAnswer("I do not know", ["France"])).toMatchObject({ exact_match: 0, f1: 0, abstained: true });
    expect(scoreAnswer("the France", ["France"])).toMatchObject({ exact_match: 1, f1: 1, abstained: false });
  });
});

describe("loadQaData", () => {
  it("reads every SQuAD v2 question with its paragraph, the unanswerable ones with no reference", async () => {
    const items = await loadQaData(fixture("datasets/squad-v2-dev-subset/dev-v2.0.json"));
    expect(items).toHaveLength(208);
    expect(items.filter((i) => i.references.length === 0)).toHaveLength(112); // is_impossible
    expect(items[0]).toMatchObject({ question: "In what country is Normandy located?", references: ["France"] });
    expect(items[0]!.context).toContain("Normandy");
    expect(items[5]!.references).toEqual([]);
  });

  it("takes an empty answer or is_impossible as unanswerable", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "infuse-qa-"));
    const file = path.join(dir, "v2.jsonl");
    const rows = [
      { question: "q1", answers: [] },
      { question: "q2", answer: "" },
      { question: "q3", answer: "x", is_impossible: true },
      { question: "q4", answer: "y" },
    ];
    await writeFile(file, rows.map((r) => JSON.stringify(r)).join("\n"));
    expect((await loadQaData(file)).map((i) => i.references)).toEqual([[], [], [], ["y"]]);
  });

  it("reads the financial QA CSV, finding question, answer and evidence_text", async () => {
    const items = await loadQaData(fixture("datasets/financial-qa/syntheses_10.csv"));
    expect(items).toHaveLength(150);
    expect(items[0]!.references).toEqual(["$1577.00"]);
    expect(items[0]!.context).toContain("3M");
  });

  it("reads JSONL with predictions and names the line of a missing field", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "infuse-qa-"));
    const ok = path.join(dir, "ok.jsonl");
    await writeFile(ok, '{"question": "q1", "answers": ["a", "b"], "prediction": "b"}\n');
    expect(await loadQaData(ok)).toEqual([{ id: "1", question: "q1", references: ["a", "b"], prediction: "b" }]);
    const bad = path.join(dir, "bad.jsonl");
    await writeFile(bad, '{"question": "q1", "answer": "a"}\n{"question": "q2"}\n');
    await expect(loadQaData(bad)).rejects.toThrow(/bad\.jsonl:2: no answer field/);
  });
});

describe("renderMetricsHtml", () => {
  it("draws one inline SVG chart per metric, escaped, with no external assets", () => {
    const html = renderMetricsHtml({
      title: "t <1>",
      notes: ["n"],
      metrics: ["ndcg@10", "map"],
      rows: [
        { name: "bm25", values: { "ndcg@10": 0.68, map: 0.64 } },
        { name: "a<b>", values: { "ndcg@10": 0.2, map: undefined } },
      ],
    });
    expect(html.match(/<svg /g)).toHaveLength(2);
    expect(html).toContain("t &lt;1&gt;");
    expect(html).toContain("a&lt;b&gt;");
    expect(html).not.toMatch(/<script|<link|src=|href=/);
    expect(html).toContain(">0.6800<");
  });
});

describe("QA data CSV", () => {
  it("names the line of a quote that is never closed instead of merging the rows after it", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "infuse-qa-csv-"));
    const file = path.join(dir, "qa.csv");
    await writeFile(file, 'question,answer\nWho?,Ann\n"Where?,Oslo\nWhen?,May\n');
    await expect(loadQaData(file)).rejects.toMatchObject({
      code: "eval.qa_invalid",
      kind: "input",
      message: `${file}:3: a quoted field is never closed`,
    });
  });
});
