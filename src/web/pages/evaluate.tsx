// Evaluation: run a retrieval evaluation of a collection against a BEIR-style set and view its
// report (metrics table, and the HTML report when the server keeps one).
import { useState } from "preact/hooks";
import { upload } from "../api.js";
import { cancelJob, useJob } from "../job.js";
import { ErrorLine, JobStatus, messageOf, Select, useCollections } from "../ui.js";

export function EvalPage() {
  const { collections, error: listError } = useCollections();
  const [collection, setCollection] = useState("");
  const [data, setData] = useState<File | undefined>();
  const [jobId, setJobId] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const view = useJob(jobId);
  const chosen = collection || collections[0]?.name || "";
  const status = view.record?.status;

  const run = async () => {
    if (!chosen) return;
    setError(undefined);
    const form = new FormData();
    form.append("collection", chosen);
    if (data) form.append("data", data, data.name);
    try {
      const reply = await upload<{ job_id?: string; id?: string }>("/api/eval/retrieval", form, () => undefined);
      setJobId(reply.job_id ?? reply.id);
    } catch (e) {
      setError(messageOf(e));
    }
  };

  return (
    <section aria-labelledby="eval-title" class="page">
      <h1 id="eval-title">Evaluation</h1>
      <form
        class="grid"
        onSubmit={(e) => {
          e.preventDefault();
          void run();
        }}
      >
        <Select
          id="eval-collection"
          label="Collection"
          value={chosen}
          onChange={setCollection}
          options={collections.map((c) => ({ value: c.name, label: c.name }))}
          empty="no collections"
        />
        <label for="eval-data" class="field">
          <span>Questions with relevant passages (JSONL or a BEIR zip)</span>
          <input id="eval-data" type="file" onChange={(e) => setData((e.target as HTMLInputElement).files?.[0])} />
        </label>
        <div class="actions">
          <button type="submit" disabled={!chosen || status === "running"}>
            Run evaluation
          </button>
          {jobId && status === "running" ? (
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
      <ErrorLine error={error ?? listError} />
      {jobId ? (
        <div class="panel">
          <JobStatus view={view} label="Evaluation progress" />
          {status === "done" ? <Report result={view.record?.result} jobId={jobId} /> : null}
        </div>
      ) : null}
    </section>
  );
}

/** Every number in the result, as a table (nested keys joined with dots), and the HTML report link. */
function Report({ result, jobId }: { result: unknown; jobId: string }) {
  const rows = flatten(result);
  const html = typeof (result as { report?: unknown } | undefined)?.report === "string";
  return (
    <div class="report">
      <h2>Report</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">metric</th>
            <th scope="col">value</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(([k, v]) => (
            <tr key={k}>
              <td class="mono">{k}</td>
              <td>{Number.isInteger(v) ? v : v.toFixed(4)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {html ? (
        <p>
          <a href={`/api/jobs/${encodeURIComponent(jobId)}/report`} target="_blank" rel="noopener">
            Open the HTML report
          </a>
        </p>
      ) : null}
    </div>
  );
}

export function flatten(value: unknown, prefix = "", out: [string, number][] = []): [string, number][] {
  if (typeof value === "number" && Number.isFinite(value)) out.push([prefix, value]);
  else if (value && typeof value === "object" && !Array.isArray(value))
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  return out.slice(0, 200);
}
