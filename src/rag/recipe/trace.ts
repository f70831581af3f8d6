// The trace of one retrieval: a probe between every two stages records what the stage below
// returned and the time spent below it, so each stage's own time and its effect on the passages
// (moved, dropped, expanded, compressed) come from comparing its input with its output.
import { sentencesOf } from "../compress/compress.js";
import type { Hit, RetrieveOptions, Retriever } from "../types.js";

export type StageKind = "retrieve" | "expand" | "rerank" | "mmr" | "window" | "compress" | "generate";

/** One stage of a run, as `ask --json` prints it (snake_case details). */
export interface StageTrace {
  stage: StageKind;
  /** What ran: the retriever, technique or model. */
  name: string;
  /** The stage's own time, without the stages below it. */
  ms: number;
  /** Passages the stage received from the stage below (absent for the first). */
  input?: number;
  /** Passages it passed on. */
  output: number;
  details?: Record<string, unknown>;
}

/** A retriever that records the calls through it: the last list returned and the time inside. */
export class Probe implements Retriever {
  readonly name: string;
  last: Hit[] = [];
  readonly #spans: [number, number][] = [];

  constructor(private readonly inner: Retriever) {
    this.name = inner.name;
  }

  async retrieve(query: string, options: RetrieveOptions): Promise<Hit[]> {
    const start = performance.now();
    try {
      this.last = await this.inner.retrieve(query, options);
      return this.last;
    } finally {
      this.#spans.push([start, performance.now()]);
    }
  }

  /** Milliseconds during which at least one call was running (concurrent calls count once). */
  busy(): number {
    const spans = [...this.#spans].sort((a, b) => a[0] - b[0]);
    let total = 0;
    let end = Number.NEGATIVE_INFINITY;
    for (const [s, e] of spans) {
      if (e <= end) continue;
      total += e - Math.max(s, end);
      end = e;
    }
    return total;
  }
}

export const roundMs = (ms: number) => Math.round(ms * 10) / 10;

/** Hits whose rank changed from `before` to `after` (1-based; before 0 = not in the input). */
export function moves(before: Hit[], after: Hit[]): { chunk_id: string; before: number; after: number }[] {
  const rank = new Map(before.map((h, i) => [h.chunk.id, i + 1]));
  return after
    .map((h, i) => ({ chunk_id: h.chunk.id, before: rank.get(h.chunk.id) ?? 0, after: i + 1 }))
    .filter((m) => m.before !== m.after);
}

/** Ids of the first `n` input hits that are not in the output: what the stage pushed out. */
export function droppedFrom(before: Hit[], after: Hit[], n: number): string[] {
  const kept = new Set(after.map((h) => h.chunk.id));
  return before
    .slice(0, n)
    .map((h) => h.chunk.id)
    .filter((id) => !kept.has(id));
}

/** Chunks whose text grew (window/parent expansion), with their lengths before and after. */
export function expansions(before: Hit[], after: Hit[]) {
  const prior = new Map(before.map((h) => [h.chunk.id, h.chunk]));
  return after.flatMap((h) => {
    const was = prior.get(h.chunk.id);
    if (!was || was.text.length === h.chunk.text.length) return [];
    return [
      {
        chunk_id: h.chunk.id,
        chars_before: was.text.length,
        chars_after: h.chunk.text.length,
        start: h.chunk.start,
        end: h.chunk.end,
      },
    ];
  });
}

/** What compression took out of each passage: dropped chunks and removed sentences. */
export function removals(before: Hit[], after: Hit[]) {
  const kept = new Map(after.map((h) => [h.chunk.id, h.chunk.text]));
  const dropped: string[] = [];
  const removed: { chunk_id: string; sentences: string[] }[] = [];
  for (const h of before) {
    const text = kept.get(h.chunk.id);
    if (text === undefined) {
      dropped.push(h.chunk.id);
      continue;
    }
    const gone = sentencesOf(h.chunk.text).filter((s) => !text.includes(s));
    if (gone.length > 0) removed.push({ chunk_id: h.chunk.id, sentences: gone.map((s) => clip(s, 160)) });
  }
  return { dropped, removed };
}

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
