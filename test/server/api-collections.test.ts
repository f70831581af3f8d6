// The /api/ routes on a real server: upload files → an ingest job (followed by its SSE events) → the
// collection → ask (the body of `infuse ask --json`) and the collection as an OpenAI model with its
// citations; a failing job leaves the server serving; uploads are sniffed and named by the server.
import { readdirSync } from "node:fs";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHAT_MODEL, testServer, type TestServer, followJobEvents, type ApiJob } from "./helpers.js";

let server: TestServer;
let jobId = "";

beforeAll(async () => {
  server = await testServer({ models: [CHAT_MODEL, "rag:docs"] });
}, 60_000);
afterAll(async () => server?.close());

const api = (route: string, init?: RequestInit) => fetch(`${server.url}${route}`, init);
const json = async <T>(r: Response | Promise<Response>) => (await (await r).json()) as T;

type Job = ApiJob;
const followEvents = (id: string) => followJobEvents(server.url, id);

function form(files: [string, string | Uint8Array][]): FormData {
  const f = new FormData();
  for (const [name, content] of files) f.append("files", new Blob([content]), name);
  return f;
}

describe("upload → job → collection → ask", () => {
  it("ingests uploaded files as a job and reports it over SSE", async () => {
    const res = await api("/api/collections/docs/documents", {
      method: "POST",
      body: form([
        ["../../etc/passwd.md", "# Cats\n\nThe cat Tom sleeps on the red sofa every afternoon.\n"],
        ["dogs.txt", "The dog Rex guards the garden gate at night."],
      ]),
    });
    expect(res.status).toBe(202);
    const body = await json<{ job_id: string; files: { name: string }[] }>(res);
    expect(body.files.map((f) => f.name)).toEqual(["passwd.md", "dogs.txt"]);
    jobId = body.job_id;
    const { types, last } = await followEvents(jobId);
    expect(types).toContain("status");
    expect(last.status).toBe("done");
    const job = await json<Job>(api(`/api/jobs/${jobId}`));
    expect(job).toMatchObject({ id: jobId, kind: "ingest", status: "done" });
    expect(job.result).toHaveProperty("chunks_added");
    const jobs = await json<{ jobs: Job[] }>(api("/api/jobs"));
    expect(jobs.jobs.map((j) => j.id)).toContain(jobId);
  });

  it("lists and shows the collection with its documents", async () => {
    const list = await json<{ collections: { name: string; chunks: number }[] }>(api("/api/collections"));
    expect(list.collections.map((c) => c.name)).toEqual(["docs"]);
    const show = await json<{ name: string; documents: { source: string }[] }>(api("/api/collections/docs"));
    expect(show.documents.map((d) => d.source).sort()).toEqual(["dogs.txt", "passwd.md"]);
  });

  it("asks with a recipe and answers with the body of infuse ask --json", async () => {
    const r = await json<Record<string, unknown>>(
      api("/api/collections/docs/ask", {
        method: "POST",
        body: JSON.stringify({
          question: "Where does the cat sleep?",
          top_k: 1,
          retriever: { mode: "bm25" },
          max_tokens: 6,
        }),
      }),
    );
    expect(Object.keys(r)).toEqual(
      expect.arrayContaining([
        "answer",
        "mode",
        "sources",
        "invalid_citations",
        "context",
        "retriever",
        "recipe",
        "stages",
        "latency_ms",
      ]),
    );
    expect((r["context"] as { source: string }[])[0]!.source).toBe("passwd.md");
    expect((r["recipe"] as { top_k: number }).top_k).toBe(1);
    const bad = await api("/api/collections/docs/ask", {
      method: "POST",
      body: JSON.stringify({ question: "x", retriever: { mode: "psychic" } }),
    });
    expect(bad.status).toBe(400);
    expect((await json<{ error: { param: string } }>(bad)).error.param).toBe("retriever.mode");
  });

  it("answers as the model rag:docs, citations only when asked", async () => {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "x", maxRetries: 0 });
    const messages = [{ role: "user" as const, content: "Who guards the garden gate?" }];
    const plain = await client.chat.completions.create({ model: "rag:docs", messages, max_tokens: 6 });
    expect(plain.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(plain).not.toHaveProperty("citations");
    // the prompt the model saw: the retrieved passages with the question, not the question alone
    expect(plain.usage!.prompt_tokens).toBeGreaterThan(20);
    // infuse's extra request field: a typed variable, not a literal, so the SDK's types let it pass
    const withCitations: OpenAI.ChatCompletionCreateParamsNonStreaming & { citations: boolean } = {
      model: "rag:docs",
      messages,
      max_tokens: 6,
      citations: true,
    };
    const cited = (await client.chat.completions.create(withCitations)) as unknown as {
      citations: { source: string; text: string }[];
    };
    expect(cited.citations.length).toBeGreaterThan(0);
    // each passage comes with its text (those cited, else those given)
    for (const c of cited.citations) expect(c.text).toContain(c.source === "dogs.txt" ? "Rex" : "Tom");
    const streaming: OpenAI.ChatCompletionCreateParamsStreaming & { citations: boolean } = {
      ...withCitations,
      stream: true,
    };
    const stream = await client.chat.completions.create(streaming);
    let streamed: unknown;
    for await (const chunk of stream) if ("citations" in chunk) streamed = (chunk as { citations: unknown }).citations;
    expect(streamed).toEqual(cited.citations);
  });

  it("deletes the collection; the upload folder is gone once the job ended", async () => {
    expect(readdirSync(server.context.uploadDir)).toEqual([]);
    expect((await api("/api/collections/docs", { method: "DELETE" })).status).toBe(200);
    expect((await api("/api/collections/docs")).status).toBe(404);
  });
});

describe("collections", () => {
  it("creates an empty collection with its settings; a second create is a 409; bad settings name the field", async () => {
    const post = (body: unknown) => api("/api/collections", { method: "POST", body: JSON.stringify(body) });
    const made = await post({ name: "notes", embedder: "hash", splitter: { kind: "recursive", chunk_size: 500 } });
    expect(made.status).toBe(201);
    expect(await json<{ name: string; chunks: number }>(made)).toMatchObject({ name: "notes", chunks: 0 });
    const show = await json<{ splitter_settings: { chunk_size: number } }>(api("/api/collections/notes"));
    expect(show.splitter_settings.chunk_size).toBe(500);
    expect((await post({ name: "notes" })).status).toBe(409);
    const bad = await post({ name: "other", splitter: { chunk_size: -1 } });
    expect(bad.status).toBe(400);
    expect((await json<{ error: { param: string } }>(bad)).error.param).toBe("splitter.chunk_size");
    expect((await json<{ error: { param: string } }>(post({ name: "../x" }))).error.param).toBe("name");
    expect((await json<{ error: { param: string } }>(post({ name: "x", embedder: "/etc" }))).error.param).toBe("model");
  });
});

describe("jobs and uploads that fail", () => {
  it("refuses binary files of unknown type, naming the file field", async () => {
    const res = await api("/api/collections/docs/documents", {
      method: "POST",
      body: form([["x.bin", new Uint8Array([0, 1, 2, 3, 0, 255])]]),
    });
    expect(res.status).toBe(415);
    expect((await json<{ error: { param: string } }>(res)).error.param).toBe("files[0]");
    const none = await api("/api/collections/docs/documents", { method: "POST", body: new FormData() });
    expect((await json<{ error: { param: string } }>(none)).error.param).toBe("files");
  });

  it("a failing job is recorded as failed (no stack) and the server keeps serving", async () => {
    const f = new FormData();
    f.append("corpus", new Blob(["not json\n"]), "corpus.jsonl");
    f.append("queries", new Blob(['{"_id":"q1","text":"cat"}\n']), "queries.jsonl");
    f.append("qrels", new Blob(["query-id\tcorpus-id\tscore\nq1\td1\t1\n"]), "test.tsv");
    f.append("options", JSON.stringify({ recipes: ["bm25"] }));
    const res = await api("/api/eval/retrieval", { method: "POST", body: f });
    expect(res.status).toBe(202);
    const { job_id } = await json<{ job_id: string }>(res);
    const { last } = await followEvents(job_id);
    expect(last.status).toBe("failed");
    expect(last.error).toHaveProperty("message");
    expect(last.error).not.toHaveProperty("stack");
    expect((await api(`/api/jobs/${job_id}/report.html`)).status).toBe(404);
    expect((await api("/v1/models")).status).toBe(200);
  });

  it("unknown jobs are 404; cancelling a finished job returns it unchanged", async () => {
    expect((await api("/api/jobs/nope")).status).toBe(404);
    expect((await api("/api/jobs/nope", { method: "DELETE" })).status).toBe(404);
    const done = await json<Job>(api(`/api/jobs/${jobId}`, { method: "DELETE" }));
    expect(done.status).toBe("done");
  });
});
