// A chat model run by infuse's own engine (models/llama) with an optional unmerged LoRA adapter, in a
// worker thread: the ops are synchronous, so generating here would block the event loop (a server,
// Ctrl-C). The worker loads the model once; concurrent calls are decoded there together (continuous
// batching, up to maxBatch at once) and stream their pieces back by message.
import { existsSync } from "node:fs";
import path from "node:path";
import type { Worker } from "node:worker_threads";
import type { ResolvedConfig } from "../../core/config.js";
import { cancelledError, InfuseError, throwIfAborted } from "../../core/errors.js";
import type { ProgressListener } from "../../core/progress.js";
import { errorFromWire, startModuleWorker } from "../../core/worker-thread.js";
import { resolveLocalModel, resolveModel } from "../../hub/resolve.js";
import type { ChatTemplateSource } from "../../models/chat-template.js";
import type { ChatMessage, ChatModel, ChatOptions } from "../types.js";
import type { EngineInfo, EngineInit, EngineInput, EngineReply, EngineRequest } from "./engine-protocol.js";
import { PushStream } from "./stream.js";
import { limitsOf } from "../../core/limits.js";

export interface EngineChatOptions {
  /** A LoRA adapter folder (PEFT files, as `infuse tune` writes them), applied unmerged. */
  adapter?: string;
  /** Needed for hub references (cache folder, endpoint). */
  config?: Pick<ResolvedConfig, "cacheDir" | "hub" | "limits">;
  /** Dequantize quantized weights at load ("f32": faster on small models, more memory). */
  weights?: "native" | "f32";
  /** Most concurrent chats decoded together (default: the config's limits.maxBatch, 8); more wait. */
  maxBatch?: number;
  signal?: AbortSignal;
  onProgress?: ProgressListener;
}

export class EngineChatModel implements ChatModel {
  readonly id: string;
  /** Which chat template prompts are written with: the adapter's, the model's, or the plain prompt. */
  readonly template: ChatTemplateSource;
  readonly contextLength: number;
  private readonly streams = new Map<number, { pieces: PushStream<string>; onUsage?: ChatOptions["onUsage"] }>();
  private nextId = 1;
  private active = 0;
  private closed: InfuseError | undefined;

  private constructor(
    id: string,
    private readonly worker: Worker,
    info: EngineInfo,
  ) {
    this.id = id;
    this.template = info.template;
    this.contextLength = info.contextLength;
    worker.on("message", (m: EngineReply) => this.receive(m));
    worker.on("error", (e) =>
      this.close(new InfuseError("llm.engine_failed", `the engine worker failed: ${e.message}`, { cause: e })),
    );
    worker.on("exit", (code) =>
      this.close(
        new InfuseError("llm.engine_exited", `the engine worker exited (code ${code})`, {
          hint: "the process may have run out of memory; try a smaller or quantized model",
        }),
      ),
    );
    worker.unref(); // an idle model does not keep the process alive
  }

  /** `ref`: a .gguf file, a Hugging Face folder (safetensors), or hf:owner/repo[/file]. */
  static async load(ref: string, options: EngineChatOptions = {}): Promise<EngineChatModel> {
    throwIfAborted(options.signal, `loading ${ref}`);
    const model = await localModel(ref, options);
    if (options.adapter !== undefined) checkAdapter(options.adapter);
    const init: EngineInit = {
      model,
      ...(options.adapter !== undefined ? { adapter: path.resolve(options.adapter) } : {}),
      ...(options.weights ? { weights: options.weights } : {}),
      templateMaxChars: limitsOf(options.config).templateMaxChars,
      maxBatch: options.maxBatch ?? limitsOf(options.config).maxBatch,
      prefillChunk: limitsOf(options.config).prefillChunk,
    };
    const worker = startModuleWorker(import.meta.url, "./engine-worker", { workerData: init });
    const info = await ready(worker, ref, options.signal);
    return new EngineChatModel(
      `engine:${ref}${options.adapter !== undefined ? `+${options.adapter}` : ""}`,
      worker,
      info,
    );
  }

  chat(messages: ChatMessage[], options: ChatOptions = {}): AsyncGenerator<string> {
    return this.generate({ messages: messages.map((m) => ({ role: m.role, content: m.content })) }, options);
  }

  complete(prompt: string, options: ChatOptions = {}): AsyncGenerator<string> {
    return this.generate({ prompt }, options);
  }

  private async *generate(input: EngineInput, options: ChatOptions): AsyncGenerator<string> {
    const what = `generation with ${this.id}`;
    throwIfAborted(options.signal, what);
    if (this.closed) throw this.closed;
    const id = this.nextId++;
    const stream = new PushStream<string>();
    this.streams.set(id, { pieces: stream, ...(options.onUsage ? { onUsage: options.onUsage } : {}) });
    if (this.active++ === 0) this.worker.ref();
    const stop = (): void => {
      if (!this.streams.delete(id)) return;
      this.send({ type: "abort", id });
    };
    const onAbort = (): void => {
      stop();
      stream.fail(cancelledError(what, options.signal?.reason));
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      this.send({
        type: "generate",
        id,
        input,
        options: {
          ...(options.maxTokens !== undefined ? { maxTokens: options.maxTokens } : {}),
          ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
          ...(options.topP !== undefined ? { topP: options.topP } : {}),
          ...(options.seed !== undefined ? { seed: options.seed } : {}),
          ...(options.stop && options.stop.length > 0 ? { stop: options.stop } : {}),
        },
      });
      for await (const piece of stream) {
        throwIfAborted(options.signal, what);
        yield piece;
      }
    } finally {
      // a consumer that stops reading (break, return, throw, abort) stops the generation in the worker
      stop();
      options.signal?.removeEventListener("abort", onAbort);
      if (--this.active === 0 && !this.closed) this.worker.unref();
    }
  }

  async dispose(): Promise<void> {
    this.close(new InfuseError("cancelled", `${this.id} was disposed`, { kind: "cancelled" }));
    await this.worker.terminate();
  }

  private send(m: EngineRequest): void {
    if (!this.closed) this.worker.postMessage(m);
  }

  private receive(m: EngineReply): void {
    if (m.type === "ready" || m.id === undefined) return;
    const open = this.streams.get(m.id);
    if (!open) return; // a generation the consumer already left
    if (m.type === "piece") open.pieces.push(m.text);
    else {
      this.streams.delete(m.id);
      if (m.type === "done") {
        open.onUsage?.({ promptTokens: m.promptTokens, completionTokens: m.tokens });
        open.pieces.end();
      } else open.pieces.fail(errorFromWire(m.error, "llm.engine_failed"));
    }
  }

  /** Fails every open generation with `error`; later calls fail with it too. */
  private close(error: InfuseError): void {
    this.closed ??= error;
    for (const s of this.streams.values()) s.pieces.fail(error);
    this.streams.clear();
  }
}

/** A local path the worker can open: the .gguf file, or the Hugging Face folder. */
async function localModel(ref: string, options: EngineChatOptions): Promise<string> {
  const resolved = options.config
    ? await resolveModel(ref, {
        config: options.config,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      })
    : await resolveLocalModel(ref);
  if (resolved.kind === "gguf" || resolved.files.includes("config.json")) return resolved.path;
  const ggufs = resolved.files.filter((f) => f.toLowerCase().endsWith(".gguf"));
  if (ggufs.length === 1) return path.join(resolved.path, ggufs[0]!);
  throw new InfuseError("llm.not_a_model", `${ref} is neither one GGUF file nor a Hugging Face model folder`, {
    kind: "usage",
    hint:
      ggufs.length > 1
        ? `name one of its GGUF files: ${ggufs.join(", ")}`
        : "give a .gguf file or a folder with config.json, *.safetensors and tokenizer.json",
    details: { ref },
  });
}

function checkAdapter(dir: string): void {
  if (!existsSync(path.join(dir, "adapter_config.json"))) {
    throw new InfuseError("llm.adapter_not_found", `${dir} is not a LoRA adapter folder (no adapter_config.json)`, {
      kind: existsSync(dir) ? "input" : "not_found",
      hint: "give the folder `infuse tune` wrote (adapter_config.json, adapter_model.safetensors)",
      details: { adapter: dir },
    });
  }
}

/** Waits for the worker to load the model; a load error keeps its code, an abort stops the worker. */
function ready(worker: Worker, ref: string, signal: AbortSignal | undefined): Promise<EngineInfo> {
  return new Promise<EngineInfo>((resolve, reject) => {
    const fail = (e: InfuseError): void => {
      cleanup();
      void worker.terminate();
      reject(e);
    };
    const onMessage = (m: EngineReply): void => {
      if (m.type === "ready") {
        cleanup();
        resolve(m.info);
      } else if (m.type === "error" && m.id === undefined) fail(errorFromWire(m.error, "llm.engine_failed"));
    };
    const onError = (e: Error): void =>
      fail(new InfuseError("llm.engine_failed", `the engine worker failed loading ${ref}: ${e.message}`, { cause: e }));
    const onExit = (code: number): void =>
      fail(new InfuseError("llm.engine_exited", `the engine worker exited (code ${code}) loading ${ref}`));
    const onAbort = (): void => fail(cancelledError(`loading ${ref}`, signal?.reason));
    const cleanup = (): void => {
      worker.off("message", onMessage);
      worker.off("error", onError);
      worker.off("exit", onExit);
      signal?.removeEventListener("abort", onAbort);
    };
    worker.on("message", onMessage);
    worker.on("error", onError);
    worker.on("exit", onExit);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
