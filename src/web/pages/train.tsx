// Training: pick a base model and a dataset, start a LoRA tune job, watch loss and eval loss,
// tokens/s and ETA live, cancel it, and download the adapter when it is done.
import { useState } from "preact/hooks";
import { upload } from "../api.js";
import { MetricChart } from "../chart.js";
import { cancelJob, useJob } from "../job.js";
import { ErrorLine, JobStatus, messageOf, Select, useModels } from "../ui.js";

export function TrainPage() {
  const { models, error: modelError } = useModels();
  // the server tunes the local models it serves (a GGUF or model folder, engine:…)
  const bases = models.filter((m) => !/^(rag|openai|ollama):/.test(m.id));
  const [model, setModel] = useState("");
  const [data, setData] = useState<File | undefined>();
  const [steps, setSteps] = useState("20");
  const [evalEvery, setEvalEvery] = useState("5");
  const [rank, setRank] = useState("8");
  const [learningRate, setLearningRate] = useState("0.001");
  const [jobId, setJobId] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const view = useJob(jobId);
  const status = view.record?.status;
  const running = status === "queued" || status === "running" || (jobId !== undefined && status === undefined);
  const chosen = model || bases[0]?.id || "";

  const start = async () => {
    if (!data || !chosen) return;
    setError(undefined);
    const form = new FormData();
    form.append("dataset", data, data.name);
    const options = {
      model: chosen,
      max_steps: Number(steps),
      rank: Number(rank),
      lr: Number(learningRate),
      eval_every: Number(evalEvery),
    };
    form.append("options", JSON.stringify(options));
    try {
      const reply = await upload<{ job_id?: string; id?: string }>("/api/tune", form, () => undefined);
      setJobId(reply.job_id ?? reply.id);
    } catch (e) {
      setError(messageOf(e));
    }
  };

  const last = view.points[view.points.length - 1]?.metrics ?? view.record?.metrics ?? {};
  const tps = last["tokens_per_second"];
  return (
    <section aria-labelledby="train-title" class="page">
      <h1 id="train-title">Training</h1>
      <form
        class="grid"
        onSubmit={(e) => {
          e.preventDefault();
          void start();
        }}
      >
        <Select
          id="train-model"
          label="Base model"
          value={chosen}
          onChange={setModel}
          options={bases.map((m) => ({ value: m.id, label: m.id }))}
          empty="no models served"
        />
        <label for="train-data" class="field">
          <span>Training data (chat JSONL, Alpaca JSON, CSV or text)</span>
          <input
            id="train-data"
            type="file"
            accept=".jsonl,.json,.csv,.txt,.md"
            onChange={(e) => setData((e.target as HTMLInputElement).files?.[0])}
          />
        </label>
        <label for="train-steps" class="field">
          <span>Steps</span>
          <input
            id="train-steps"
            type="number"
            min="1"
            value={steps}
            onInput={(e) => setSteps((e.target as HTMLInputElement).value)}
          />
        </label>
        <label for="train-eval" class="field">
          <span>Eval every (steps)</span>
          <input
            id="train-eval"
            type="number"
            min="0"
            value={evalEvery}
            onInput={(e) => setEvalEvery((e.target as HTMLInputElement).value)}
          />
        </label>
        <label for="train-rank" class="field">
          <span>LoRA rank</span>
          <input
            id="train-rank"
            type="number"
            min="1"
            value={rank}
            onInput={(e) => setRank((e.target as HTMLInputElement).value)}
          />
        </label>
        <label for="train-lr" class="field">
          <span>Learning rate</span>
          <input
            id="train-lr"
            type="number"
            step="any"
            min="0"
            value={learningRate}
            onInput={(e) => setLearningRate((e.target as HTMLInputElement).value)}
          />
        </label>
        <div class="actions">
          <button type="submit" disabled={!data || !chosen || running}>
            Start training
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
      <ErrorLine error={error ?? modelError} />
      {jobId ? (
        <div class="panel">
          <JobStatus view={view} label="Training progress" />
          <dl class="stats">
            <dt>loss</dt>
            <dd class="stat-loss">{fmt(last["loss"])}</dd>
            <dt>eval loss</dt>
            <dd>{fmt(last["eval_loss"])}</dd>
            <dt>tokens/s</dt>
            <dd class="stat-tps">{tps !== undefined ? tps.toFixed(0) : "–"}</dd>
          </dl>
          <MetricChart points={view.points} keys={["loss", "eval_loss"]} label="Training loss and eval loss by step" />
          {status === "done" ? <Adapter jobId={jobId} result={view.record?.result} /> : null}
        </div>
      ) : null}
    </section>
  );
}

/** The finished run: its files to download, and its adapter as the model `tuned:JOB` to compare. */
function Adapter({ jobId, result }: { jobId: string; result: unknown }) {
  const files = ((result as { files?: unknown } | undefined)?.files ?? []) as unknown[];
  const names = files.filter((f): f is string => typeof f === "string").map((f) => f.split(/[\\/]/).pop()!);
  return (
    <div class="adapter">
      <h2>Adapter</h2>
      <ul class="documents" aria-label="Adapter files">
        {names.map((name) => (
          <li key={name}>
            <a href={`/api/jobs/${encodeURIComponent(jobId)}/files/${encodeURIComponent(name)}`} download={name}>
              {name}
            </a>
          </li>
        ))}
      </ul>
      <p>
        Served as the model <span class="mono">tuned:{jobId}</span>: <a href="#/compare">compare it with its base</a>.
      </p>
    </div>
  );
}

function fmt(v: number | undefined): string {
  return v === undefined ? "–" : v.toFixed(4);
}
