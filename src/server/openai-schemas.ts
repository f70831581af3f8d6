// The OpenAI request bodies infuse reads, as zod schemas (loose: clients send fields infuse does not
// use, such as `user` or `n: 1`). Fields infuse cannot honour are refused by name, not ignored.
import { z } from "zod";

const TextPart = z.strictObject({ type: z.literal("text"), text: z.string() });
const Content = z.union([z.string(), z.array(z.looseObject({ type: z.string() }))], {
  error: "a string or an array of content parts",
});

export const ChatMessageSchema = z.looseObject({
  role: z.enum(["system", "developer", "user", "assistant"], {
    error: "one of system, developer, user, assistant",
  }),
  content: Content.nullable().optional(),
});

const Stop = z.union([z.string(), z.array(z.string()).max(4)], { error: "a string or up to 4 strings" }).nullable();

const Sampling = {
  model: z.string({ error: "a served model id (GET /v1/models)" }).min(1, { error: "a served model id" }),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().gt(0).max(1).nullable().optional(),
  max_tokens: z.int().positive().nullable().optional(),
  max_completion_tokens: z.int().positive().nullable().optional(),
  stop: Stop.optional(),
  seed: z.int().nullable().optional(),
  n: z.literal(1, { error: "1 (infuse returns one choice)" }).nullable().optional(),
  stream: z.boolean().nullable().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullable().optional(),
};

export const ChatRequestSchema = z.looseObject({
  ...Sampling,
  messages: z.array(ChatMessageSchema).min(1, { error: "at least one message" }),
  response_format: z
    .looseObject({
      type: z.enum(["text", "json_object"], { error: "text or json_object (json_schema is not supported)" }),
    })
    .nullable()
    .optional(),
  /** infuse's extra: the cited passages of a `rag:` answer, as a `citations` field. */
  citations: z.boolean().optional(),
});

export const CompletionRequestSchema = z.looseObject({
  ...Sampling,
  prompt: z.union([z.string(), z.array(z.string()).length(1, { error: "one prompt" })], {
    error: "a string (or an array of one string)",
  }),
  echo: z.boolean().nullable().optional(),
  suffix: z.null({ error: "not supported" }).optional(),
});

const TokenIds = z.array(z.int().min(0));
export const EmbeddingRequestSchema = z.looseObject({
  model: z.string({ error: "a served embedding model id" }).min(1),
  input: z.union([z.string(), z.array(z.string()).min(1), TokenIds.min(1), z.array(TokenIds.min(1)).min(1)], {
    error: "a string, an array of strings, an array of token ids or an array of token-id arrays",
  }),
  encoding_format: z.enum(["float", "base64"], { error: "float or base64" }).optional(),
  dimensions: z.int().positive().optional(),
});

export type ChatRequest = z.infer<typeof ChatRequestSchema>;
export type CompletionRequest = z.infer<typeof CompletionRequestSchema>;
export type EmbeddingRequest = z.infer<typeof EmbeddingRequestSchema>;
export { TextPart };
