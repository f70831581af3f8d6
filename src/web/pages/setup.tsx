// First run: offer the recommended models (a small embedder, a reranker, a small instruct GGUF)
// and download them through the server's hub client as a job with progress. Offline, or on a
// server without the route, it says so and keeps the embedded defaults. Also the API key field.
import { useEffect, useState } from "preact/hooks";
import { apiKey, getJson, sendJson, setApiKey } from "../api.js";
import { useJob } from "../job.js";
import { ErrorLine, JobStatus, messageOf } from "../ui.js";

export interface RecommendedModel {
  ref: string;
  role: string;
  size?: number;
  installed?: boolean;
}

interface Recommended {
  models: RecommendedModel[];
  online?: boolean;
}

const DISMISSED = "infuse.setupDismissed";

// local storage can be refused (private windows, policies): then the choice lasts for this page
function remembered(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function remember(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // kept in memory only
  }
}

export function useRecommended(): { state?: Recommended; error?: string } {
  const [result, setResult] = useState<{ state?: Recommended; error?: string }>({});
  useEffect(() => {
    const controller = new AbortController();
    getJson<Recommended>("/api/models/recommended", controller.signal).then(
      (state) => setResult({ state }),
      (e: unknown) => !controller.signal.aborted && setResult({ error: messageOf(e) }),
    );
    return () => controller.abort();
  }, []);
  return result;
}

/** Shown on every page until the recommended models are installed or the offer is dismissed. */
export function FirstRunBanner() {
  const { state, error } = useRecommended();
  const [dismissed, setDismissed] = useState(() => remembered(DISMISSED) === "1");
  if (dismissed || (!state && !error) || (state && state.models.every((m) => m.installed))) return null;
  return (
    <aside class="banner" aria-label="First run">
      <span>
        {state?.online === false
          ? "Offline: infuse keeps its embedded defaults. "
          : "Better answers need real models: a small embedder, a reranker and a small chat model. "}
      </span>
      <a href="#/setup">Set up models</a>
      <button
        type="button"
        class="link"
        onClick={() => {
          remember(DISMISSED, "1");
          setDismissed(true);
        }}
      >
        Not now
      </button>
    </aside>
  );
}

export function SetupPage() {
  const { state, error } = useRecommended();
  const [jobId, setJobId] = useState<string | undefined>();
  const [startError, setStartError] = useState<string | undefined>();
  const [key, setKey] = useState(apiKey());
  const view = useJob(jobId);
  const offline = state?.online === false;
  const missing = state?.models.filter((m) => !m.installed) ?? [];

  const pull = async () => {
    setStartError(undefined);
    try {
      const reply = await sendJson<{ job_id: string }>("POST", "/api/models/recommended", {
        refs: missing.map((m) => m.ref),
      });
      setJobId(reply.job_id);
    } catch (e) {
      setStartError(messageOf(e));
    }
  };

  return (
    <section aria-labelledby="setup-title" class="page">
      <h1 id="setup-title">Setup</h1>
      <div class="panel">
        <h2>Recommended models</h2>
        {!state && !error ? <p class="muted">Checking which models are installed…</p> : null}
        {error ? (
          <p class="muted" role="status">
            This server cannot offer model downloads ({error}); infuse keeps its embedded defaults. From a terminal:{" "}
            <code>infuse demo --models recommended</code>
          </p>
        ) : null}
        {offline ? (
          <p role="status">The hub cannot be reached: infuse works offline with its embedded defaults.</p>
        ) : null}
        {state ? (
          <ul class="documents">
            {state.models.map((m) => (
              <li key={m.ref}>
                <strong>{m.role}</strong> <span class="mono">{m.ref}</span>{" "}
                <span class="muted">{m.installed ? "installed" : m.size ? `${(m.size / 1e6).toFixed(0)} MB` : ""}</span>
              </li>
            ))}
          </ul>
        ) : null}
        {state && missing.length > 0 && !offline ? (
          <button
            type="button"
            onClick={() => void pull()}
            disabled={jobId !== undefined && view.record?.status !== "failed"}
          >
            Download {missing.length} model{missing.length > 1 ? "s" : ""}
          </button>
        ) : null}
        <ErrorLine error={startError} />
        {jobId ? <JobStatus view={view} label="Model download" /> : null}
      </div>
      <form
        class="panel row"
        onSubmit={(e) => {
          e.preventDefault();
          setApiKey(key.trim());
        }}
      >
        <label for="api-key" class="field">
          <span>API key (only when the server asks for one)</span>
          <input
            id="api-key"
            type="password"
            autocomplete="off"
            value={key}
            onInput={(e) => setKey((e.target as HTMLInputElement).value)}
          />
        </label>
        <button type="submit">Save key</button>
      </form>
    </section>
  );
}
