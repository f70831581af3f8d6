// `npm run bench -- serve [--streams 32] [--max-tokens 32] [--model SPEC] [--timeout-s 300] [--max-batch 8]`: the server
// on 127.0.0.1 (stories260K in infuse's engine by default) under N concurrent streaming chats from the
// openai SDK plus an ingest job of uploaded files running at the same time. Every stream must complete
// within the time bound. Prints time-to-first-token p50/p95, total tokens/s and the ingest job's time.
// --max-batch sets limits.maxBatch (1: chats served one at a time, the behaviour before batching).
import { setMaxListeners } from "node:events";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import OpenAI from "openai";
import { loadConfig } from "../src/core/config.js";
import { startServer } from "../src/server/server.js";
import { fixture, REPO_ROOT } from "../test/helpers/fixtures.js";
import { emit, log, cpuFigure } from "./emit.js";

function flag(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const PROMPTS = ["Once upon a time", "The little dog", "Lily wanted to", "One day, a bird", "Tom and Sue went"];

interface StreamResult {
  ttftMs: number;
  totalMs: number;
  tokens: number;
}

async function oneStream(
  client: OpenAI,
  model: string,
  i: number,
  maxTokens: number,
  signal: AbortSignal,
): Promise<StreamResult> {
  const t0 = performance.now();
  const stream = await client.chat.completions.create(
    {
      model,
      messages: [{ role: "user", content: PROMPTS[i % PROMPTS.length]! }],
      max_tokens: maxTokens,
      temperature: 0.8,
      seed: i,
      stream: true,
      stream_options: { include_usage: true },
    },
    { signal },
  );
  let ttft = -1;
  let tokens = 0;
  for await (const chunk of stream) {
    if (ttft < 0 && chunk.choices[0]?.delta.content) ttft = performance.now() - t0;
    if (chunk.usage) tokens = chunk.usage.completion_tokens;
  }
  return { ttftMs: ttft < 0 ? performance.now() - t0 : ttft, totalMs: performance.now() - t0, tokens };
}

async function ingestJob(base: string): Promise<{ ms: number; files: number; status: string }> {
  const dir = path.join(REPO_ROOT, "examples", "sample-docs");
  const form = new FormData();
  let files = 0;
  for (const name of await readdir(dir)) {
    if (!/\.(md|txt|html)$/.test(name)) continue;
    form.append("files", new Blob([await readFile(path.join(dir, name))]), name);
    files++;
  }
  for (let i = 0; i < 40; i++) {
    const text = Array.from(
      { length: 200 },
      (_, j) => `Paragraph ${j} of note ${i}: the harbour pilot checks the tide.`,
    ).join("\n\n");
    form.append("files", new Blob([text]), `note-${i}.md`);
    files++;
  }
  const t0 = performance.now();
  const res = await fetch(`${base}/api/collections/bench/documents`, { method: "POST", body: form });
  const { job_id } = (await res.json()) as { job_id: string };
  await (await fetch(`${base}/api/jobs/${job_id}/events`)).text(); // ends when the job has finished
  const job = (await (await fetch(`${base}/api/jobs/${job_id}`)).json()) as { status: string };
  return { ms: performance.now() - t0, files, status: job.status };
}

export default async function serveBench(args: string[]): Promise<void> {
  const streams = Number(flag(args, "--streams", "32"));
  const maxTokens = Number(flag(args, "--max-tokens", "32"));
  const model = flag(args, "--model", `engine:${fixture("models/stories260K-gguf/stories260K.gguf")}`);
  const timeoutS = Number(flag(args, "--timeout-s", "300"));
  const maxBatch = Number(flag(args, "--max-batch", "8"));
  emit({ ...cpuFigure("serve"), load_average: os.loadavg().map((x) => Math.round(x * 100) / 100) });
  const dir = await mkdtemp(path.join(os.tmpdir(), "infuse-bench-serve-"));
  await writeFile(path.join(dir, "infuse.config.json"), JSON.stringify({ limits: { maxBatch } }));
  const config = await loadConfig({
    cwd: dir,
    env: { ...process.env, INFUSE_HOME: path.join(dir, "home"), INFUSE_OFFLINE: "1" },
  });
  const server = await startServer({ config, options: { port: 0, models: [model], embedders: ["hash"] }, env: {} });
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "bench", maxRetries: 0, timeout: timeoutS * 1000 });
  const bound = AbortSignal.timeout(timeoutS * 1000);
  setMaxListeners(streams + 8, bound); // every stream listens to the one time bound
  try {
    log(`warming up ${model}`);
    await oneStream(client, model, 0, 4, bound);
    log(`${streams} concurrent streaming chats (max_tokens ${maxTokens}) + an ingest job`);
    const t0 = performance.now();
    const ingest = ingestJob(server.url);
    const settled = await Promise.allSettled(
      Array.from({ length: streams }, (_, i) => oneStream(client, model, i, maxTokens, bound)),
    );
    const wallMs = performance.now() - t0;
    const ingested = await ingest;
    const done = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
    const failed = settled.flatMap((s) => (s.status === "rejected" ? [String((s.reason as Error).message)] : []));
    const ttft = done.map((r) => r.ttftMs).sort((a, b) => a - b);
    const tokens = done.reduce((n, r) => n + r.tokens, 0);
    const round = (x: number) => Math.round(x * 10) / 10;
    emit({
      bench: "serve",
      figure: "streaming_chats",
      model,
      streams,
      max_batch: maxBatch,
      completed: done.length,
      failed: failed.length,
      max_tokens: maxTokens,
      ttft_p50_ms: round(percentile(ttft, 50)),
      ttft_p95_ms: round(percentile(ttft, 95)),
      total_tokens: tokens,
      tokens_per_s: round(tokens / (wallMs / 1000)),
      wall_s: round(wallMs / 1000),
    });
    emit({
      bench: "serve",
      figure: "ingest_job_during_chats",
      files: ingested.files,
      status: ingested.status,
      seconds: round(ingested.ms / 1000),
    });
    if (failed.length > 0 || ingested.status !== "done") {
      log(`not every stream or the ingest job completed: ${failed.slice(0, 3).join("; ")}`);
      process.exitCode = 1;
    }
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}
