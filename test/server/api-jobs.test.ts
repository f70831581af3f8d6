// The /api/ routes that start training and evaluation on a real server: a tune job from an uploaded
// dataset (metrics over SSE, its adapter downloadable and served as `tuned:JOB`, cancel), a retrieval
// evaluation from uploaded BEIR files with its HTML report, and paths that only the server sets.
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHAT_MODEL, testServer, type TestServer, followJobEvents, type ApiJob } from "./helpers.js";

let server: TestServer;

beforeAll(async () => {
  server = await testServer();
}, 60_000);
afterAll(async () => server?.close());

const api = (route: string, init?: RequestInit) => fetch(`${server.url}${route}`, init);
const json = async <T>(r: Response | Promise<Response>) => (await (await r).json()) as T;

type Job = ApiJob;
const followEvents = (id: string) => followJobEvents(server.url, id);

describe("tune and evaluation jobs", () => {
  it("a tune job's paths are the server's: data and out cannot be sent", async () => {
    const f = new FormData();
    f.append("dataset", new Blob(['{"instruction":"a","output":"b"}\n']), "d.jsonl");
    f.append("options", JSON.stringify({ model: CHAT_MODEL, out: "/tmp/x" }));
    const res = await api("/api/tune", { method: "POST", body: f });
    expect(res.status).toBe(400);
    expect((await json<{ error: { param: string } }>(res)).error.param).toBe("options.out");
    const f2 = new FormData();
    f2.append("dataset", new Blob(['{"instruction":"a","output":"b"}\n']), "d.jsonl");
    f2.append("options", JSON.stringify({ model: "/etc/passwd" }));
    expect((await json<{ error: { param: string } }>(api("/api/tune", { method: "POST", body: f2 }))).error.param).toBe(
      "model",
    );
  });
  it("runs a tune job from an uploaded dataset, and cancels one", async () => {
    const rows = Array.from({ length: 8 }, (_, i) =>
      JSON.stringify({ instruction: `Name ${i}?`, output: `Tom ${i}.` }),
    );
    const start = (options: Record<string, unknown>) => {
      const f = new FormData();
      f.append("dataset", new Blob([rows.join("\n") + "\n"]), "facts.jsonl");
      f.append("options", JSON.stringify({ model: CHAT_MODEL, batch_size: 2, max_length: 128, ...options }));
      return json<{ job_id: string }>(api("/api/tune", { method: "POST", body: f }));
    };
    const { job_id } = await start({ max_steps: 2 });
    const { types, last } = await followEvents(job_id);
    expect(last.error ?? last.status).toBe("done");
    expect(types).toContain("metric");
    const files = (last.result as { files: string[] }).files.map((f) => f.split("/").pop()!);
    expect(files).toContain("adapter_model.safetensors");
    const adapter = await api(`/api/jobs/${job_id}/files/adapter_model.safetensors`);
    expect(adapter.status).toBe(200);
    expect((await adapter.arrayBuffer()).byteLength).toBeGreaterThan(0);
    expect((await api(`/api/jobs/${job_id}/files/..%2f..%2fetc%2fpasswd`)).status).toBe(404);
    // the adapter as a model beside its base
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "x", maxRetries: 0 });
    const tuned = await client.chat.completions.create({
      model: `tuned:${job_id}`,
      messages: [{ role: "user", content: "Name 1?" }],
      max_tokens: 4,
    });
    expect(tuned.model).toBe(`tuned:${job_id}`);
    expect((await client.models.list()).data.map((m) => m.id)).toContain(`tuned:${job_id}`);
    const unknown = await client.chat.completions
      .create({ model: "tuned:nope", messages: [{ role: "user", content: "x" }] })
      .catch((e: unknown) => e);
    expect((unknown as { status: number }).status).toBe(404);
    const long = await start({ max_steps: 100000 });
    const events = await api(`/api/jobs/${long.job_id}/events`);
    const reader = events.body!.getReader();
    for (let seen = ""; !seen.includes("event: metric");) seen += new TextDecoder().decode((await reader.read()).value);
    const cancelled = await json<Job>(api(`/api/jobs/${long.job_id}`, { method: "DELETE" }));
    expect(cancelled.status).toBe("cancelled");
    await reader.cancel();
    // a finished run trains further from its checkpoint, as a new job in the same run folder
    const resume = (id: string, body: unknown) =>
      api(`/api/jobs/${id}/resume`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    expect((await resume(job_id, { max_steps: 0 })).status).toBe(400);
    const more = await json<{ job_id: string }>(resume(job_id, { max_steps: 4 }));
    const extended = await followEvents(more.job_id);
    expect(extended.last.error ?? extended.last.status).toBe("done");
    const metrics = await json<{ metrics?: { step?: number } }>(api(`/api/jobs/${more.job_id}`));
    expect(metrics.metrics?.step).toBe(4);
  }, 90_000);
  it("runs a retrieval evaluation and serves its HTML report", async () => {
    const f = new FormData();
    const corpus = [
      { _id: "d1", title: "Cats", text: "The cat sleeps on the red sofa." },
      { _id: "d2", title: "Dogs", text: "The dog guards the garden gate." },
    ];
    f.append("corpus", new Blob([corpus.map((d) => JSON.stringify(d)).join("\n") + "\n"]), "corpus.jsonl");
    f.append("queries", new Blob(['{"_id":"q1","text":"where does the cat sleep"}\n']), "queries.jsonl");
    f.append("qrels", new Blob(["query-id\tcorpus-id\tscore\nq1\td1\t1\n"]), "test.tsv");
    f.append("options", JSON.stringify({ recipes: ["bm25"], top_k: 2 }));
    const { job_id } = await json<{ job_id: string }>(api("/api/eval/retrieval", { method: "POST", body: f }));
    const { last } = await followEvents(job_id);
    expect(last.error ?? last.status).toBe("done");
    const report = await api(`/api/jobs/${job_id}/report.html`);
    expect(report.status).toBe(200);
    expect(await report.text()).toContain("ndcg@10");
  });
});
