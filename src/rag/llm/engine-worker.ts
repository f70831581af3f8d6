// The engine chat model's worker thread (started by engine.ts): loads the model and its adapter once,
// then decodes concurrent generations together (BatchGenerator: continuous batching, limits.maxBatch at
// once) and posts each one's text pieces back (a chat through the chat template, a completion's raw prompt
// as `infuse generate --prompt` encodes it); an abort message ends that generation at its next step.
// Errors go back with their InfuseError code and kind.
import { parentPort, workerData } from "node:worker_threads";
import { cancelledError } from "../../core/errors.js";
import { errorToWire } from "../../core/worker-thread.js";
import { encodeChat } from "../../models/chat.js";
import { chooseChatTemplate, readAdapterChatTemplate } from "../../models/chat-template.js";
import { BatchGenerator } from "../../models/batch-generate.js";
import { promptIds } from "../../models/generate.js";
import { loadLlama } from "../../models/llama/load.js";
import { loadLora } from "../../models/lora/io.js";
import type { EngineInit, EngineReply, EngineRequest } from "./engine-protocol.js";

const init = workerData as EngineInit;
const port = parentPort!;
const post = (m: EngineReply): void => port.postMessage(m);

try {
  const loaded = await loadLlama(init.model, { weights: init.weights ?? "native" });
  let adapterTemplate: string | undefined;
  if (init.adapter !== undefined) {
    await loadLora(loaded.model, init.adapter);
    adapterTemplate = await readAdapterChatTemplate(init.adapter);
  }
  const chosen = chooseChatTemplate(loaded.tokenizer, adapterTemplate);
  const running = new Map<number, AbortController>();
  const batch = new BatchGenerator(loaded.model, loaded.tokenizer, {
    ...(init.maxBatch !== undefined ? { maxBatch: init.maxBatch } : {}),
    ...(init.prefillChunk !== undefined ? { prefillChunk: init.prefillChunk } : {}),
  });

  const run = async (m: Extract<EngineRequest, { type: "generate" }>, signal: AbortSignal): Promise<void> => {
    try {
      if (signal.aborted) throw cancelledError("generation");
      const chat = "messages" in m.input;
      const ids =
        "messages" in m.input
          ? encodeChat(loaded.tokenizer, m.input.messages, {
              template: chosen.template,
              ...(init.templateMaxChars !== undefined ? { maxChars: init.templateMaxChars } : {}),
            })
          : promptIds(loaded.tokenizer, m.input.prompt);
      const o = m.options;
      const stream = batch.generate(ids, {
        temperature: o.temperature ?? 0,
        ...(o.maxTokens !== undefined ? { maxTokens: o.maxTokens } : {}),
        ...(o.topP !== undefined ? { topP: o.topP } : {}),
        ...(o.seed !== undefined ? { seed: o.seed } : {}),
        // the template's end-of-turn strings end a chat answer; a raw completion ends at EOS
        stop: [...(o.stop ?? []), ...(chat ? chosen.stop : [])],
        signal,
      });
      for (;;) {
        const step = await stream.next();
        if (step.done) {
          const r = step.value;
          post({
            type: "done",
            id: m.id,
            finishReason: r.finishReason,
            tokens: r.tokens.length,
            promptTokens: r.promptTokens,
          });
          return;
        }
        if (step.value.text) post({ type: "piece", id: m.id, text: step.value.text });
      }
    } catch (e) {
      post({ type: "error", id: m.id, error: errorToWire(e) });
    }
  };

  port.on("message", (m: EngineRequest) => {
    if (m.type === "abort") {
      running.get(m.id)?.abort();
      return;
    }
    const ctl = new AbortController();
    running.set(m.id, ctl);
    void run(m, ctl.signal).finally(() => running.delete(m.id));
  });
  post({
    type: "ready",
    info: { template: chosen.source, contextLength: loaded.model.config.contextLength, dtype: loaded.dtype },
  });
} catch (e) {
  post({ type: "error", error: errorToWire(e) });
}
