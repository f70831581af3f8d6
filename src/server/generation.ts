// One generation for the OpenAI routes: a served chat model's pieces, or a `rag:COLLECTION` answer
// (the pipeline's ask, streaming its generative answer; an extractive answer comes as one piece).
// Counts the pieces (the model layer streams about one token a piece) and keeps the ask's citations.
import { ask } from "../rag/pipeline/ask.js";
import type { CitedSource } from "../rag/generate/sources.js";
import { PushStream } from "../rag/llm/stream.js";
import type { ChatMessage, ChatOptions } from "../rag/types.js";
import type { ServerContext } from "./context.js";
import type { ServedModel } from "./models.js";

export interface Generation {
  pieces: AsyncIterable<string>;
  /** Once `pieces` has ended: how many there were, why it stopped, and a `rag:` answer's citations. */
  summary(): { completionTokens: number; finishReason: "stop" | "length"; citations?: CitedSource[] };
}

export function generate(
  ctx: ServerContext,
  model: ServedModel,
  messages: ChatMessage[],
  options: ChatOptions,
): Generation {
  let count = 0;
  let citations: CitedSource[] | undefined;
  const source =
    model.kind === "rag"
      ? ragPieces(ctx, model, messages, options, (c) => (citations = c))
      : chatPieces(ctx, model, messages, options);
  async function* counted(): AsyncGenerator<string> {
    for await (const piece of source) {
      count++;
      yield piece;
    }
  }
  return {
    pieces: counted(),
    summary: () => ({
      completionTokens: count,
      finishReason: options.maxTokens !== undefined && count >= options.maxTokens ? "length" : "stop",
      ...(citations ? { citations } : {}),
    }),
  };
}

async function* chatPieces(
  ctx: ServerContext,
  model: ServedModel,
  messages: ChatMessage[],
  options: ChatOptions,
): AsyncGenerator<string> {
  const chat = await ctx.models.chat(model.id);
  yield* chat.chat(messages, options);
}

/** The question of a chat: its last user message. */
function lastUserText(messages: ChatMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i]!.role === "user") return messages[i]!.content;
  return "";
}

async function* ragPieces(
  ctx: ServerContext,
  model: ServedModel,
  messages: ChatMessage[],
  options: ChatOptions,
  cite: (sources: CitedSource[]) => void,
): AsyncGenerator<string> {
  const setup = await ctx.models.ragSetup(model.id);
  const { signal, ...sampling } = options;
  const stream = new PushStream<string>();
  let streamed = false;
  const done = ask(lastUserText(messages), {
    dataDir: ctx.config.dataDir,
    store: ctx.store,
    collection: setup.collection,
    embedder: setup.embedder,
    ...(setup.llm ? { llm: setup.llm } : {}),
    ...(setup.noLlmReason ? { noLlmReason: setup.noLlmReason } : {}),
    recipe: setup.recipe,
    loadReranker: ctx.models.loadReranker(signal),
    generate: sampling,
    onToken: (piece) => {
      streamed = true;
      stream.push(piece);
    },
    ...(signal ? { signal } : {}),
  }).then(
    (result) => {
      if (!streamed || result.mode === "extractive") stream.push(result.answer);
      cite(result.sources);
      stream.end();
    },
    (e: unknown) => stream.fail(e),
  );
  try {
    yield* stream;
  } finally {
    await done;
  }
}
