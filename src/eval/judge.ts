// LLM-as-judge: a chat model grades an answer for faithfulness to the retrieved context, relevance
// to the question, and coherence, each 1–5 with a one-sentence reason. The parsing rules accept
// the JSON we ask for and the usual near misses. Leaves out pairwise (A/B) judging.
import { throwIfAborted } from "../core/errors.js";
import { complete } from "../rag/expand/complete.js";
import type { ChatMessage, ChatModel } from "../rag/types.js";

export type JudgeCriterion = "faithfulness" | "relevance" | "coherence";
export const JUDGE_CRITERIA: JudgeCriterion[] = ["faithfulness", "relevance", "coherence"];

export interface Judgment {
  /** 1–5, or undefined when the reply held no grade. */
  score: number | undefined;
  reason: string;
  /** The judge's reply as written. */
  raw: string;
}

export interface JudgeInput {
  question: string;
  answer: string;
  /** Retrieved passages the answer should rest on (faithfulness). */
  context: string[];
}

const QUESTIONS: Record<JudgeCriterion, string> = {
  faithfulness:
    "Is every claim in the answer supported by the context? 5 = fully supported, 1 = contradicts or invents facts.",
  relevance: "Does the answer address the question? 5 = directly and completely, 1 = not at all.",
  coherence: "Is the answer clear, well organised and consistent? 5 = very coherent, 1 = incoherent.",
};

export function judgePrompt(criterion: JudgeCriterion, input: JudgeInput): ChatMessage[] {
  const parts = [`Question: ${input.question}`];
  if (criterion === "faithfulness")
    parts.push(`Context:\n${input.context.map((c, i) => `[${i + 1}] ${c}`).join("\n")}`);
  parts.push(`Answer: ${input.answer}`);
  return [
    {
      role: "system",
      content:
        `You grade answers. ${QUESTIONS[criterion]} ` +
        'Reply with JSON only: {"score": <1-5>, "reason": "<one sentence>"}.',
    },
    { role: "user", content: parts.join("\n\n") },
  ];
}

/**
 * Reads a grade: a JSON object with `score` (and `reason`) anywhere in the reply; else "score: N"
 * or "N/5"; else a lone digit 1–5. The reason is the JSON reason or the rest of the reply.
 */
export function parseJudgment(raw: string): Judgment {
  const text = raw.trim();
  for (const m of text.matchAll(/\{[^{}]*\}/g)) {
    try {
      const obj = JSON.parse(m[0]) as Record<string, unknown>;
      const score = grade(Number(obj["score"] ?? obj["rating"]));
      if (score !== undefined) return { score, reason: String(obj["reason"] ?? obj["explanation"] ?? "").trim(), raw };
    } catch {
      // not JSON: try the looser forms
    }
  }
  const labelled =
    /(?:score|rating|grade)\s*[:=]?\s*(\d(?:\.\d+)?)/i.exec(text) ?? /\b(\d(?:\.\d+)?)\s*\/\s*5\b/.exec(text);
  const lone = labelled ?? /(?<![\d.])([1-5])(?![\d.])/.exec(text);
  const score = lone ? grade(Number(lone[1])) : undefined;
  const reason = lone
    ? (text.slice(0, lone.index) + text.slice(lone.index + lone[0].length)).replace(/^[\s.:,-]+/, "").trim()
    : text;
  return { score, reason, raw };
}

function grade(v: number): number | undefined {
  return Number.isFinite(v) && v >= 1 && v <= 5 ? v : undefined;
}

export class LlmJudge {
  constructor(
    private readonly model: ChatModel,
    private readonly options: { maxTokens?: number } = {},
  ) {}

  get id(): string {
    return this.model.id;
  }

  async judge(
    input: JudgeInput,
    criteria: JudgeCriterion[] = JUDGE_CRITERIA,
    signal?: AbortSignal,
  ): Promise<Record<JudgeCriterion, Judgment>> {
    const out = {} as Record<JudgeCriterion, Judgment>;
    for (const c of criteria) {
      throwIfAborted(signal, "LLM judging");
      const raw = await complete(this.model, judgePrompt(c, input), {
        maxTokens: this.options.maxTokens ?? 120,
        temperature: 0,
        ...(signal ? { signal } : {}),
      });
      out[c] = parseJudgment(raw);
    }
    return out;
  }
}

/** Mean grade per criterion over answers, and how many replies held no grade. */
export type JudgmentSummary = { model: string } & Partial<
  Record<JudgeCriterion, { mean: number | null; unparsed: number }>
>;

export function summarizeJudgments(
  model: string,
  rows: { judge?: Partial<Record<JudgeCriterion, { score: number | null }>> }[],
): JudgmentSummary {
  const out: JudgmentSummary = { model };
  for (const c of JUDGE_CRITERIA) {
    const scores = rows.map((r) => r.judge?.[c]?.score ?? null);
    const parsed = scores.filter((s): s is number => s !== null);
    out[c] = {
      mean: parsed.length > 0 ? parsed.reduce((a, b) => a + b, 0) / parsed.length : null,
      unparsed: scores.length - parsed.length,
    };
  }
  return out;
}
