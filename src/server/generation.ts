// One generation for the OpenAI routes: a served chat model's pieces, or a `rag:COLLECTION` answer
// (the pipeline's ask, streaming its generative answer; an extractive answer comes as one piece).
// Keeps the token counts the model's backend reports (onUsage: the prompt as the model saw it, chat
// template and retrieved passages included), counting the pieces where it reports no completion
// tokens (the model layer streams about one token a piece), and the ask's citations.
import { ask } from "../rag/pipeline/ask.js";
import { citedSources, type CitedSource as Source } from "../rag/generate/sources.js";

/**
 * A passage with its text, so a client can show what the answer rests on: those the answer cites
 * (`cited: true`), or, when it cites none, every passage it was given (`cited: false`), as the CLI
 * lists them.
 */
export type CitedSource = Source & { text: string; cited: boolean };
import { PushStream } from "../rag/llm/stream.js";
import type { ChatMessage, ChatOptions, ChatUsage } from "../rag/types.js";
import type { ServerContext } from "./context.js";
import type { ServedModel } from "./models.js";

export interface Generation {
  pieces: AsyncIterable<string>;
  /**
   * Once `pieces` has ended: the prompt's tokens (0 where the backend reports none), the completion's,
   * why it stopped, and a `rag:` answer's citations.
   */
  summary(): {
    promptTokens: number;
    completionTokens: number;
    finishReason: "stop" | "length";
    citations?: CitedSource[];
  };
}

/**
 * `input`: a chat's messages, or a completion's raw prompt (continued by the model's `complete`, as one
 * user turn by a chat model without one; a `rag:` model takes it as the question).
 */
export function generate(
  ctx: ServerContext,
  model: ServedModel,
  input: ChatMessage[] | string,
  options: ChatOptions,
): Generation {
  let count = 0;
  let usage: ChatUsage | undefined;
  let citations: CitedSource[] | undefined;
  const counted: ChatOptions = {
    ...options,
    onUsage: (u) => {
      usage = u;
      options.onUsage?.(u);
    },
  };
  const source =
    model.kind === "rag"
      ? ragPieces(ctx, model, typeof input === "string" ? input : lastUserText(input), counted, (c) => (citations = c))
      : chatPieces(ctx, model, input, counted);
  async function* pieces(): AsyncGenerator<string> {
    for await (const piece of source) {
      count++;
      yield piece;
    }
  }
  return {
    pieces: pieces(),
    summary: () => {
      const completionTokens = usage?.completionTokens ?? count;
      return {
        promptTokens: usage?.promptTokens ?? 0,
        completionTokens,
        finishReason: options.maxTokens !== undefined && completionTokens >= options.maxTokens ? "length" : "stop",
        ...(citations ? { citations } : {}),
      };
    },
  };
}

async function* chatPieces(
  ctx: ServerContext,
  model: ServedModel,
  input: ChatMessage[] | string,
  options: ChatOptions,
): AsyncGenerator<string> {
  const chat = await ctx.models.chat(model.id);
  if (typeof input !== "string") yield* chat.chat(input, options);
  else if (chat.complete) yield* chat.complete(input, options);
  else yield* chat.chat([{ role: "user", content: input }], options);
}

/** The question of a chat: its last user message. */
function lastUserText(messages: ChatMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i]!.role === "user") return messages[i]!.content;
  return "";
}

async function* ragPieces(
  ctx: ServerContext,
  model: ServedModel,
  question: string,
  options: ChatOptions,
  cite: (sources: CitedSource[]) => void,
): AsyncGenerator<string> {
  const setup = await ctx.models.ragSetup(model.id);
  const { signal, ...sampling } = options;
  const stream = new PushStream<string>();
  let streamed = false;
  const done = ask(question, {
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
      const cited = result.sources.length > 0;
      const shown = cited ? result.sources : citedSources(result.hits);
      cite(shown.map((s) => ({ ...s, text: result.hits[s.n - 1]?.chunk.text ?? "", cited })));
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
