// Collections: list, create, delete, show documents, and drop files in to ingest them — each file
// its own upload (with a byte progress bar) and its own ingest job (with the job's progress or error).
import { useEffect, useState } from "preact/hooks";
import { getJson, sendJson, upload } from "../api.js";
import { useJob } from "../job.js";
import { ErrorLine, JobStatus, messageOf, ProgressBar, useCollections } from "../ui.js";

export function CollectionsPage() {
  const [reload, setReload] = useState(0);
  const { collections, error, loaded } = useCollections(reload);
  const [selected, setSelected] = useState<string | undefined>();
  const [name, setName] = useState("");
  const [formError, setFormError] = useState<string | undefined>();
  const refresh = () => setReload((n) => n + 1);

  const create = async () => {
    const n = name.trim();
    if (!n) return;
    setFormError(undefined);
    try {
      await sendJson("POST", "/api/collections", { name: n });
      setName("");
      setSelected(n);
      refresh();
    } catch (e) {
      setFormError(messageOf(e));
    }
  };
  const remove = async (n: string) => {
    if (!confirm(`Delete the collection "${n}" and its index?`)) return;
    try {
      await sendJson("DELETE", `/api/collections/${encodeURIComponent(n)}`);
      if (selected === n) setSelected(undefined);
      refresh();
    } catch (e) {
      setFormError(messageOf(e));
    }
  };

  return (
    <section aria-labelledby="collections-title" class="page">
      <h1 id="collections-title">Collections</h1>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          void create();
        }}
      >
        <label for="new-collection" class="field">
          <span>New collection</span>
          <input
            id="new-collection"
            value={name}
            pattern="[A-Za-z0-9][A-Za-z0-9_.\-]*"
            placeholder="handbook"
            onInput={(e) => setName((e.target as HTMLInputElement).value)}
          />
        </label>
        <button type="submit">Create</button>
      </form>
      <ErrorLine error={formError ?? error} />
      {loaded && collections.length === 0 && !error ? (
        <p class="muted">No collections yet: create one, then drop files into it.</p>
      ) : null}
      <ul class="cards" aria-label="Collections">
        {collections.map((c) => (
          <li key={c.name} class={`card ${selected === c.name ? "selected" : ""}`} data-collection={c.name}>
            <button
              type="button"
              class="link card-title"
              aria-pressed={selected === c.name}
              onClick={() => setSelected(c.name)}
            >
              {c.name}
            </button>
            <span class="muted">
              {c.units !== undefined ? `${c.units} documents` : ""}
              {c.chunks !== undefined ? ` · ${c.chunks} chunks` : ""}
            </span>
            <button type="button" class="danger" aria-label={`Delete ${c.name}`} onClick={() => void remove(c.name)}>
              Delete
            </button>
          </li>
        ))}
      </ul>
      <Upload collection={selected ?? collections[0]?.name} onIngested={refresh} />
      {selected && collections.some((c) => c.name === selected) ? (
        <Documents collection={selected} reload={reload} />
      ) : null}
    </section>
  );
}

interface Document {
  source: string;
  chunks?: number | string[];
  media_type?: string;
}

function Documents({ collection, reload }: { collection: string; reload: number }) {
  const [docs, setDocs] = useState<Document[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    const controller = new AbortController();
    setDocs(undefined);
    getJson<{ documents?: Document[] }>(`/api/collections/${encodeURIComponent(collection)}`, controller.signal).then(
      (body) => setDocs(body.documents ?? []),
      (e: unknown) => !controller.signal.aborted && setError(messageOf(e)),
    );
    return () => controller.abort();
  }, [collection, reload]);
  return (
    <div class="panel">
      <h2>Documents in {collection}</h2>
      <ErrorLine error={error} />
      {docs && docs.length === 0 ? <p class="muted">No documents yet.</p> : null}
      <ul class="documents">
        {(docs ?? []).map((d) => (
          <li key={d.source}>
            <span class="mono">{d.source}</span>
            {d.chunks !== undefined ? (
              <span class="muted"> · {Array.isArray(d.chunks) ? d.chunks.length : d.chunks} chunks</span>
            ) : null}
          </li>
        ))}
      </ul>
    </div>
  );
}

interface PendingFile {
  key: string;
  file: File;
  sent: number;
  jobId?: string;
  error?: string;
}

/** Drop zone (also a file picker, keyboard reachable) that uploads each file as its own ingest job. */
export function Upload({ collection, onIngested }: { collection: string | undefined; onIngested(): void }) {
  const [files, setFiles] = useState<PendingFile[]>([]);
  const [over, setOver] = useState(false);
  const add = (list: FileList | null) => {
    if (!list || !collection) return;
    const fresh = Array.from(list).map((file, i) => ({ key: `${Date.now()}-${i}-${file.name}`, file, sent: 0 }));
    setFiles((all) => [...fresh, ...all]);
    for (const item of fresh) void send(item);
  };
  const patch = (key: string, p: Partial<PendingFile>) =>
    setFiles((all) => all.map((f) => (f.key === key ? { ...f, ...p } : f)));
  const send = async (item: PendingFile) => {
    const form = new FormData();
    form.append("files", item.file, item.file.name);
    try {
      const reply = await upload<{ job_id: string }>(
        `/api/collections/${encodeURIComponent(collection!)}/documents`,
        form,
        (sent) => patch(item.key, { sent }),
      );
      patch(item.key, { jobId: reply.job_id, sent: item.file.size });
    } catch (e) {
      patch(item.key, { error: messageOf(e) });
    }
  };
  return (
    <div class="panel">
      <h2>Add documents{collection ? ` to ${collection}` : ""}</h2>
      <label
        class={`dropzone ${over ? "over" : ""}`}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault();
          setOver(false);
          add(e.dataTransfer?.files ?? null);
        }}
      >
        <span>
          {collection
            ? "Drop PDFs, Word, HTML, Markdown or text files here, or choose files"
            : "Create a collection first"}
        </span>
        <input
          id="upload-files"
          type="file"
          multiple
          disabled={!collection}
          onChange={(e) => {
            const input = e.target as HTMLInputElement;
            add(input.files);
            input.value = "";
          }}
        />
      </label>
      <ul class="uploads" aria-label="Uploads">
        {files.map((f) => (
          <UploadRow key={f.key} item={f} onIngested={onIngested} />
        ))}
      </ul>
    </div>
  );
}

function UploadRow({ item, onIngested }: { item: PendingFile; onIngested(): void }) {
  const view = useJob(item.jobId);
  const status = view.record?.status;
  useEffect(() => {
    if (status === "done") onIngested();
  }, [status]);
  return (
    <li class="upload" data-file={item.file.name} data-status={item.error ? "failed" : (status ?? "uploading")}>
      <span class="mono">{item.file.name}</span> <span class="muted">{formatBytes(item.file.size)}</span>
      {!item.jobId && !item.error ? (
        <ProgressBar done={item.sent} total={item.file.size} label={`Uploading ${item.file.name}`} />
      ) : null}
      {item.jobId ? <JobStatus view={view} label={`Ingesting ${item.file.name}`} /> : null}
      <ErrorLine error={item.error} />
    </li>
  );
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
