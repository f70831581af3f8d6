// The web UI's shell: a header with the pages (hash routes, so the server serves one index.html),
// the first-run banner, and the current page.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import "./style.css";
import { ChatPage } from "./pages/chat.js";
import { CollectionsPage } from "./pages/collections.js";
import { ComparePage } from "./pages/compare.js";
import { EvalPage } from "./pages/evaluate.js";
import { FirstRunBanner, SetupPage } from "./pages/setup.js";
import { TrainPage } from "./pages/train.js";

const PAGES = [
  { path: "chat", label: "Chat", view: ChatPage },
  { path: "collections", label: "Collections", view: CollectionsPage },
  { path: "train", label: "Training", view: TrainPage },
  { path: "eval", label: "Evaluation", view: EvalPage },
  { path: "compare", label: "Compare", view: ComparePage },
  { path: "setup", label: "Setup", view: SetupPage },
] as const;

function currentPath(): string {
  const hash = location.hash.replace(/^#\/?/, "");
  return PAGES.some((p) => p.path === hash) ? hash : "chat";
}

function App() {
  const [path, setPath] = useState(currentPath());
  useEffect(() => {
    const onHash = () => {
      setPath(currentPath());
      document.getElementById("main")?.focus();
    };
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);
  const page = PAGES.find((p) => p.path === path) ?? PAGES[0];
  const View = page.view;
  useEffect(() => {
    document.title = `${page.label} · infuse`;
  }, [page]);
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById("main")?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">infuse</span>
        <nav aria-label="Pages">
          <ul>
            {PAGES.map((p) => (
              <li key={p.path}>
                <a href={`#/${p.path}`} aria-current={p.path === path ? "page" : undefined}>
                  {p.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
      </header>
      <FirstRunBanner />
      <main id="main" tabIndex={-1}>
        <View />
      </main>
    </>
  );
}

render(<App />, document.getElementById("app")!);
