// Evaluation: upload a BEIR set (corpus, queries, qrels), pick the recipes to compare, run the
// retrieval evaluation as a job, and view its report (a table per recipe, and the HTML report).
import { useState } from "preact/hooks";
import { upload } from "../api.js";
import { cancelJob, useJob } from "../job.js";
import { ErrorLine, JobStatus, messageOf } from "../ui.js";

const FILES = [
  { field: "corpus", label: "Corpus (corpus.jsonl)", accept: ".jsonl,.json" },
  { field: "queries", label: "Queries (queries.jsonl)", accept: ".jsonl,.json" },
  { field: "qrels", label: "Relevance judgements (qrels .tsv)", accept: ".tsv,.txt" },
] as const;

type Field = (typeof FILES)[number]["field"];

const COLUMNS = ["ndcg@10", "recall@10", "recall@100", "mrr@10", "map"] as const;

interface ReportRow {
  retriever: string;
  queries?: number;
  [metric: string]: unknown;
}

export function EvalPage() {
  const [files, setFiles] = useState<Partial<Record<Field, File>>>({});
  const [recipes, setRecipes] = useState("bm25, dense, hybrid");
  const [jobId, setJobId] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const view = useJob(jobId);
  const status = view.record?.status;
  const ready = FILES.every((f) => files[f.field]);
  const running = jobId !== undefined && (status === undefined || status === "queued" || status === "running");

  const run = async () => {
    if (!ready) return;
    setError(undefined);
    const form = new FormData();
    for (const f of FILES) form.append(f.field, files[f.field]!, files[f.field]!.name);
    const list = recipes
      .split(",")
      .map((r) => r.trim())
      .filter(Boolean);
    form.append("options", JSON.stringify({ recipes: list.length > 0 ? list : ["bm25"] }));
    try {
      const reply = await upload<{ job_id: string }>("/api/eval/retrieval", form, () => undefined);
      setJobId(reply.job_id);
    } catch (e) {
      setError(messageOf(e));
    }
  };

  return (
    <section aria-labelledby="eval-title" class="page">
      <h1 id="eval-title">Evaluation</h1>
      <p class="muted">Retrieval quality of each recipe on a BEIR-format set: nDCG, recall, MRR and MAP.</p>
      <form
        class="grid"
        onSubmit={(e) => {
          e.preventDefault();
          void run();
        }}
      >
        {FILES.map((f) => (
          <label key={f.field} for={`eval-${f.field}`} class="field">
            <span>{f.label}</span>
            <input
              id={`eval-${f.field}`}
              type="file"
              accept={f.accept}
              onChange={(e) => {
                const file = (e.target as HTMLInputElement).files?.[0];
                setFiles((all) => ({ ...all, [f.field]: file }));
              }}
            />
          </label>
        ))}
        <label for="eval-recipes" class="field">
          <span>Recipes (comma-separated: bm25, dense, hybrid, hybrid+rerank…)</span>
          <input id="eval-recipes" value={recipes} onInput={(e) => setRecipes((e.target as HTMLInputElement).value)} />
        </label>
        <div class="actions">
          <button type="submit" disabled={!ready || running}>
            Run evaluation
          </button>
          {jobId && running ? (
            <button
              type="button"
              class="danger"
              onClick={() => void cancelJob(jobId).catch((e) => setError(messageOf(e)))}
            >
              Cancel
            </button>
          ) : null}
        </div>
      </form>
      <ErrorLine error={error} />
      {jobId ? (
        <div class="panel">
          <JobStatus view={view} label="Evaluation progress" />
          {status === "done" ? <Report result={view.record?.result} jobId={jobId} /> : null}
        </div>
      ) : null}
    </section>
  );
}

function Report({ result, jobId }: { result: unknown; jobId: string }) {
  const r = (result ?? {}) as { results?: ReportRow[]; queries?: number; documents?: number; embedder?: string };
  const rows = r.results ?? [];
  return (
    <div class="report">
      <h2>Report</h2>
      <p class="muted">
        {r.queries ?? "?"} queries · {r.documents ?? "?"} documents{r.embedder ? ` · embedder ${r.embedder}` : ""}
      </p>
      <div class="table-scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">recipe</th>
              {COLUMNS.map((c) => (
                <th key={c} scope="col">
                  {c}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.retriever}>
                <th scope="row" class="mono">
                  {row.retriever}
                </th>
                {COLUMNS.map((c) => (
                  <td key={c}>{typeof row[c] === "number" ? (row[c] as number).toFixed(3) : "–"}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p>
        <a href={`/api/jobs/${encodeURIComponent(jobId)}/report.html`} download>
          Download the HTML report
        </a>
      </p>
    </div>
  );
}
