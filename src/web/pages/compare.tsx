// Model picker: two models (a base and its adapter, or any two served models) answer the same
// question side by side, both streamed at once.
import { useEffect, useState } from "preact/hooks";
import { getJson, type JobRecord } from "../api.js";
import { streamChat } from "../chat-api.js";
import { ErrorLine, messageOf, Select, useModels } from "../ui.js";

interface Side {
  model: string;
  answer: string;
  busy: boolean;
  error?: string;
}

export function ComparePage() {
  const { models: served, error } = useModels();
  const tuned = useTunedModels();
  const models = [...served, ...tuned.filter((t) => !served.some((m) => m.id === t.id))];
  const options = models.map((m) => ({ value: m.id, label: m.id }));
  const [picked, setPicked] = useState<[string, string]>(["", ""]);
  const [question, setQuestion] = useState("");
  const [sides, setSides] = useState<Side[]>([]);
  const left = picked[0] || served.find((m) => !m.id.startsWith("rag:"))?.id || models[0]?.id || "";
  const right = picked[1] || tuned[0]?.id || models.find((m) => m.id !== left)?.id || left;

  const ask = () => {
    const q = question.trim();
    if (!q || !left) return;
    const chosen = [left, right];
    setSides(chosen.map((model) => ({ model, answer: "", busy: true })));
    chosen.forEach((model, i) => {
      const patch = (f: (s: Side) => Side) => setSides((all) => all.map((s, j) => (j === i ? f(s) : s)));
      streamChat(model, [{ role: "user", content: q }], {
        maxTokens: 128,
        temperature: 0,
        onDelta: (piece) => patch((s) => ({ ...s, answer: s.answer + piece })),
      }).then(
        () => patch((s) => ({ ...s, busy: false })),
        (e: unknown) => patch((s) => ({ ...s, busy: false, error: messageOf(e) })),
      );
    });
  };

  return (
    <section aria-labelledby="compare-title" class="page">
      <h1 id="compare-title">Compare models</h1>
      <form
        class="grid"
        onSubmit={(e) => {
          e.preventDefault();
          ask();
        }}
      >
        <Select
          id="compare-left"
          label="Model A (e.g. the base)"
          value={left}
          options={options}
          onChange={(v) => setPicked([v, picked[1]])}
        />
        <Select
          id="compare-right"
          label="Model B (e.g. with your adapter)"
          value={right}
          options={options}
          onChange={(v) => setPicked([picked[0], v])}
        />
        <label for="compare-question" class="field wide">
          <span>Question</span>
          <input
            id="compare-question"
            value={question}
            onInput={(e) => setQuestion((e.target as HTMLInputElement).value)}
          />
        </label>
        <div class="actions">
          <button type="submit" disabled={!left || sides.some((s) => s.busy)}>
            Ask both
          </button>
        </div>
      </form>
      <ErrorLine error={error} />
      <div class="side-by-side">
        {sides.map((s, i) => (
          <article key={i} class="panel" aria-busy={s.busy}>
            <h2 class="mono">{s.model}</h2>
            <p class="answer-text">{s.answer}</p>
            <ErrorLine error={s.error} />
          </article>
        ))}
      </div>
    </section>
  );
}

/** Finished tune jobs' adapters, each served as `tuned:JOB` on its base model. */
function useTunedModels(): { id: string }[] {
  const [ids, setIds] = useState<{ id: string }[]>([]);
  useEffect(() => {
    const controller = new AbortController();
    getJson<{ jobs?: JobRecord[] }>("/api/jobs", controller.signal).then(
      (body) =>
        setIds(
          (body.jobs ?? [])
            .filter((j) => j.kind === "tune" && j.status === "done")
            .map((j) => ({ id: `tuned:${j.id}` })),
        ),
      () => undefined,
    );
    return () => controller.abort();
  }, []);
  return ids;
}
