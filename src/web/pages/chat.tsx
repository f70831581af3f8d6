// Chat over a collection (model `rag:NAME`) or with any served model: streamed answers, [n]
// citations as buttons that open the cited passage with its file, page and heading.
import { useEffect, useRef, useState } from "preact/hooks";
import { askCollection, splitCitations, streamChat, type ChatMessage, type Citation } from "../chat-api.js";
import { ErrorLine, messageOf, Select, useCollections, useModels } from "../ui.js";

/** Any collection, served as a `rag:` model or not, can be asked through the REST route (not streamed). */
const COLLECTION = "collection:";

interface Turn {
  question: string;
  answer: string;
  citations: Citation[];
  streaming: boolean;
  error?: string;
}

export function ChatPage() {
  const { models, error: modelError } = useModels();
  const { collections } = useCollections();
  const targets = [
    ...models.map((m) => ({ value: m.id, label: m.id })),
    ...collections.map((c) => ({ value: `${COLLECTION}${c.name}`, label: `${c.name} (collection, whole answer)` })),
  ];
  const [model, setModel] = useState("");
  const [input, setInput] = useState("");
  const [turns, setTurns] = useState<Turn[]>([]);
  const [open, setOpen] = useState<Citation | undefined>();
  const controller = useRef<AbortController | undefined>(undefined);
  const busy = turns.some((t) => t.streaming);

  useEffect(() => {
    if (model || targets.length === 0) return;
    const preferred = targets.find((t) => t.value.startsWith("rag:") || t.value.startsWith(COLLECTION));
    setModel((preferred ?? targets[0])!.value);
  }, [targets.length, model]);
  useEffect(() => () => controller.current?.abort(), []);

  const send = async () => {
    const question = input.trim();
    if (!question || !model || busy) return;
    setInput("");
    const history: ChatMessage[] = turns.flatMap((t) => [
      { role: "user" as const, content: t.question },
      { role: "assistant" as const, content: t.answer },
    ]);
    const index = turns.length;
    const update = (f: (t: Turn) => Turn) => setTurns((all) => all.map((t, i) => (i === index ? f(t) : t)));
    setTurns((all) => [...all, { question, answer: "", citations: [], streaming: true }]);
    controller.current = new AbortController();
    try {
      if (model.startsWith(COLLECTION)) {
        const body = await askCollection(model.slice(COLLECTION.length), question, controller.current.signal);
        const note = body.note ? `\n\n(${body.note})` : "";
        update((t) => ({
          ...t,
          answer: body.answer + note,
          citations: body.context ?? body.sources,
          streaming: false,
        }));
        return;
      }
      await streamChat(model, [...history, { role: "user", content: question }], {
        signal: controller.current.signal,
        maxTokens: 256,
        onDelta: (piece) => update((t) => ({ ...t, answer: t.answer + piece })),
        onCitations: (citations) => update((t) => ({ ...t, citations })),
      });
      update((t) => ({ ...t, streaming: false }));
    } catch (e) {
      update((t) => ({ ...t, streaming: false, error: messageOf(e) }));
    }
  };

  return (
    <section aria-labelledby="chat-title" class="page chat">
      <h1 id="chat-title">Chat</h1>
      <div class="row">
        <Select
          id="chat-model"
          label="Model or collection"
          value={model}
          onChange={setModel}
          options={targets}
          empty="no models or collections"
        />
      </div>
      <ErrorLine error={modelError} />
      <ol class="turns" aria-live="polite">
        {turns.map((t, i) => (
          <li key={i} class="turn">
            <p class="question">{t.question}</p>
            <div class="answer" data-streaming={t.streaming ? "true" : "false"}>
              <AnswerText text={t.answer} citations={t.citations} onOpen={setOpen} />
              {t.streaming ? <span class="cursor" aria-hidden="true" /> : null}
            </div>
            {t.citations.length > 0 ? (
              <ul class="sources" aria-label="Sources">
                {t.citations.map((c) => (
                  <li key={c.n}>
                    <button type="button" class="link" onClick={() => setOpen(c)}>
                      [{c.n}] {describe(c)}
                    </button>
                  </li>
                ))}
              </ul>
            ) : null}
            <ErrorLine error={t.error} />
          </li>
        ))}
      </ol>
      <form
        class="composer"
        onSubmit={(e) => {
          e.preventDefault();
          void send();
        }}
      >
        <label for="chat-input" class="sr-only">
          Your question
        </label>
        <textarea
          id="chat-input"
          rows={2}
          placeholder="Ask about your documents (Enter sends, Shift+Enter for a new line)"
          value={input}
          onInput={(e) => setInput((e.target as HTMLTextAreaElement).value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              void send();
            }
          }}
        />
        <button type="submit" disabled={busy || !model}>
          Send
        </button>
        {busy ? (
          <button type="button" onClick={() => controller.current?.abort()}>
            Stop
          </button>
        ) : null}
      </form>
      {open ? <PassageDialog citation={open} onClose={() => setOpen(undefined)} /> : null}
    </section>
  );
}

export function describe(c: Citation): string {
  const page = c.page !== undefined && c.page !== null ? ` p.${c.page}` : "";
  const heading = c.heading ? ` › ${c.heading}` : "";
  return `${c.source}${page}${heading}`;
}

/** The answer with each [n] it cites as a button; numbers with no passage stay plain text. */
export function AnswerText(props: { text: string; citations: Citation[]; onOpen(c: Citation): void }) {
  return (
    <p class="answer-text">
      {splitCitations(props.text).map((part, i) => {
        if (typeof part === "string") return part;
        const c = props.citations.find((x) => x.n === part);
        return c ? (
          <button key={i} type="button" class="cite" title={describe(c)} onClick={() => props.onOpen(c)}>
            [{part}]
          </button>
        ) : (
          `[${part}]`
        );
      })}
    </p>
  );
}

/** The cited passage: its file, page, heading, and its text when the server sends it with the citation. */
export function PassageDialog({ citation, onClose }: { citation: Citation; onClose(): void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const text = citation.text;
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
  }, []);
  return (
    <dialog ref={ref} class="passage" aria-labelledby="passage-title" onClose={onClose}>
      <h2 id="passage-title">
        [{citation.n}] {citation.source}
      </h2>
      <dl>
        {citation.page !== undefined && citation.page !== null ? (
          <>
            <dt>Page</dt>
            <dd class="passage-page">{citation.page}</dd>
          </>
        ) : null}
        {citation.heading ? (
          <>
            <dt>Heading</dt>
            <dd class="passage-heading">{citation.heading}</dd>
          </>
        ) : null}
        {citation.score !== undefined ? (
          <>
            <dt>Score</dt>
            <dd>{citation.score.toFixed(3)}</dd>
          </>
        ) : null}
      </dl>
      {text ? (
        <blockquote class="passage-text">{text}</blockquote>
      ) : (
        <p class="muted">The passage text is not available.</p>
      )}
      <form method="dialog">
        <button type="submit" autofocus>
          Close
        </button>
      </form>
    </dialog>
  );
}
