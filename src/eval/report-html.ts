// A self-contained HTML report: a table of every configuration and an inline SVG bar chart per
// metric across configurations. No scripts, fonts or external assets. Leaves out per-query views.
import type { AnswersReport } from "./run-answers.js";
import type { RetrievalReport } from "./run-retrieval.js";

export interface MetricsTable {
  title: string;
  /** Lines under the title (data set, split, sizes). */
  notes: string[];
  /** Metric names, in column order. */
  metrics: string[];
  rows: { name: string; values: Record<string, number | undefined> }[];
}

export const RETRIEVAL_METRICS = ["ndcg@10", "recall@10", "recall@100", "mrr@10", "map"];

export function renderHtmlReport(report: RetrievalReport): string {
  return renderMetricsHtml({
    title: `Retrieval evaluation: ${report.dataset} (${report.split})`,
    notes: [
      `${report.queries} queries, ${report.documents} documents, top ${report.topK} per query`,
      `corpus embedder ${report.embedder}; metrics as trec_eval computes them (nDCG with graded gains, log2 discount)`,
    ],
    metrics: [
      ...RETRIEVAL_METRICS,
      "latency ms",
      ...(report.results.some((r) => r.compression) ? ["token saving"] : []),
    ],
    rows: report.results.map((r) => ({
      name: r.retriever,
      values: {
        ...Object.fromEntries(RETRIEVAL_METRICS.map((m) => [m, r[m as keyof typeof r] as number])),
        "latency ms": r.latencyMs?.mean,
        "token saving": r.compression?.saving,
      },
    })),
  });
}

/** One row per configuration (setting × model), the SQuAD v2 split when the data has unanswerable questions. */
export function renderAnswersHtml(r: AnswersReport): string {
  const judged = (["faithfulness", "relevance", "coherence"] as const).filter((c) =>
    r.configurations.some((x) => x.judge?.[c]),
  );
  const split = r.unanswerable > 0 ? ["answerable EM", "answerable F1", "unanswerable abstained"] : [];
  const retrieved = r.configurations.some((c) => c.answer_in_context !== undefined) ? ["answer_in_context"] : [];
  return renderMetricsHtml({
    title: `Answer evaluation: ${r.data}`,
    notes: [
      `${r.items} questions${r.unanswerable > 0 ? `, ${r.unanswerable} unanswerable (scored 1 when the answer abstains, as SQuAD v2 scores an empty answer)` : ""}`,
      `embedder ${r.embedder}${r.collection ? `, collection ${r.collection}` : ""}${r.interrupted ? "; interrupted: finished configurations only" : ""}`,
    ],
    metrics: ["exact_match", "f1", "rouge_l", "cosine", ...retrieved, ...split, ...judged],
    rows: r.configurations.map((c) => ({
      name: c.name,
      values: {
        exact_match: c.exact_match,
        f1: c.f1,
        rouge_l: c.rouge_l,
        cosine: c.cosine,
        answer_in_context: c.answer_in_context,
        "answerable EM": c.has_answer?.exact_match,
        "answerable F1": c.has_answer?.f1,
        "unanswerable abstained": c.no_answer?.abstained,
        ...Object.fromEntries(judged.map((j) => [j, c.judge?.[j]?.mean ?? undefined])),
      },
    })),
  });
}

export function renderMetricsHtml(table: MetricsTable): string {
  const head = `<tr><th>configuration</th>${table.metrics.map((m) => `<th>${esc(m)}</th>`).join("")}</tr>`;
  const body = table.rows
    .map(
      (r) => `<tr><td>${esc(r.name)}</td>${table.metrics.map((m) => `<td>${format(r.values[m])}</td>`).join("")}</tr>`,
    )
    .join("\n");
  const charts = table.metrics.map((m) =>
    barChart(
      m,
      table.rows.map((r) => ({ label: r.name, value: r.values[m] })),
    ),
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(table.title)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}
td:first-child,th:first-child{text-align:left}.charts{display:flex;flex-wrap:wrap;gap:2em}
figure{margin:0}figcaption{font-weight:600;margin-bottom:4px}
</style></head><body>
<h1>${esc(table.title)}</h1>
${table.notes.map((n) => `<p>${esc(n)}</p>`).join("\n")}
<table>${head}
${body}</table>
<div class="charts">
${charts.join("\n")}
</div>
</body></html>
`;
}

const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"];

/** Horizontal bars, one per configuration, scaled to the largest value (or to 1 for metrics in [0, 1]). */
function barChart(metric: string, bars: { label: string; value: number | undefined }[]): string {
  const rowH = 24;
  const labelW = Math.min(260, 10 + 7 * Math.max(...bars.map((b) => b.label.length), 4));
  const barW = 300;
  const values = bars.map((b) => b.value ?? 0);
  const max = Math.max(...values, 0);
  const scale = max <= 1 ? 1 : max;
  const height = bars.length * rowH + 10;
  const rows = bars.map((b, i) => {
    const y = 5 + i * rowH;
    const w = scale > 0 ? ((b.value ?? 0) / scale) * barW : 0;
    return (
      `<text x="${labelW - 6}" y="${y + 16}" text-anchor="end" font-size="12">${esc(b.label)}</text>` +
      `<rect x="${labelW}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${PALETTE[i % PALETTE.length]}"/>` +
      `<text x="${(labelW + w + 4).toFixed(1)}" y="${y + 16}" font-size="12">${format(b.value)}</text>`
    );
  });
  return `<figure><figcaption>${esc(metric)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" width="${labelW + barW + 60}" height="${height}" role="img" aria-label="${esc(metric)}">${rows.join("")}</svg></figure>`;
}

function format(v: number | undefined): string {
  if (v === undefined || Number.isNaN(v)) return "–";
  return Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(4);
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}
