// A bounded renderer for Jinja chat templates (which come with downloaded model files, so they are
// untrusted): @huggingface/jinja's interpreter with a budget of evaluation steps, range() lengths
// and rendered characters. Leaves out wall-clock limits: steps bound the work deterministically.
import { Environment, Interpreter, type Template } from "@huggingface/jinja";
import { InfuseError } from "../core/errors.js";

export interface TemplateBudget {
  /** Longest string any expression or block may produce (`limits.templateMaxChars`). */
  maxChars: number;
  /** Most AST nodes one render may evaluate (a loop's body counts once per pass). */
  maxSteps: number;
  /** Longest list range() may build. */
  maxRange: number;
}

/** Steps and range lengths no chat template needs (a chat template spends ~20-100 steps a turn). */
export const TEMPLATE_MAX_STEPS = 1_000_000;
export const TEMPLATE_MAX_RANGE = 100_000;

// the package's typings import "./runtime" without an extension, which NodeNext does not resolve
interface RuntimeValue {
  type: string;
  value: unknown;
}
interface InterpreterShape {
  run(program: unknown): RuntimeValue;
  evaluate(statement: unknown, environment: unknown): RuntimeValue;
}
const BaseInterpreter = Interpreter as unknown as new (env: unknown) => InterpreterShape;

function limitError(what: string, key: string, hint: string): InfuseError {
  return new InfuseError("chat_template.limit", `the chat template ${what}`, {
    kind: "input",
    hint,
    details: { limit: key },
  });
}

class BoundedInterpreter extends BaseInterpreter {
  #steps = 0;
  readonly #iterables = new WeakSet<object>();
  readonly #budget: TemplateBudget;

  constructor(env: unknown, budget: TemplateBudget) {
    super(env);
    this.#budget = budget;
  }

  override evaluate(statement: unknown, environment: unknown): RuntimeValue {
    const node = statement as { type?: string; iterable?: { type?: string; lhs?: unknown } } | undefined;
    // a loop's passes cost steps even when its body is empty: its iterable is charged by length
    if (node?.type === "For" && node.iterable) {
      this.#iterables.add(node.iterable.type === "SelectExpression" ? node.iterable.lhs! : node.iterable);
    }
    this.#charge(1);
    const value = super.evaluate(statement, environment);
    if (node && this.#iterables.has(node)) {
      const v = value.value;
      this.#charge(Array.isArray(v) ? v.length : v instanceof Map ? v.size : 0);
    }
    if (value.type === "StringValue" && (value.value as string).length > this.#budget.maxChars) {
      throw limitError(
        `rendered more than ${this.#budget.maxChars} characters`,
        "limits.templateMaxChars",
        "raise limits.templateMaxChars in infuse.config.json if the template and chat are trusted",
      );
    }
    return value;
  }

  #charge(steps: number): void {
    this.#steps += steps;
    if (this.#steps > this.#budget.maxSteps) {
      throw limitError(
        `did not finish within ${this.#budget.maxSteps} evaluation steps (a loop that never ends?)`,
        "steps",
        "the template comes with the model file: use a template of your own (--template) or a different model",
      );
    }
  }
}

/** range() as Jinja's, refusing lists longer than `maxRange` before building them. */
function boundedRange(maxRange: number) {
  return (start: number, stop?: number, step = 1): number[] => {
    if (stop === undefined) [start, stop] = [0, start];
    if (![start, stop, step].every(Number.isFinite)) throw new Error("range() takes finite numbers");
    if (step === 0) throw new Error("range() step must not be zero");
    const length = Math.max(0, Math.ceil((stop - start) / step));
    if (length > maxRange) {
      throw limitError(
        `asks for range() of ${length} items (at most ${maxRange})`,
        "range",
        "the template comes with the model file: use a template of your own (--template) or a different model",
      );
    }
    return Array.from({ length }, (_, i) => start + i * step);
  };
}

function strftimeNow(format: string): string {
  const d = new Date();
  const pad2 = (n: number) => String(n).padStart(2, "0");
  const month = (style: "long" | "short") => new Intl.DateTimeFormat(undefined, { month: style }).format(d);
  const parts: Record<string, () => string> = {
    "%Y": () => String(d.getFullYear()),
    "%m": () => pad2(d.getMonth() + 1),
    "%d": () => pad2(d.getDate()),
    "%b": () => month("short"),
    "%B": () => month("long"),
    "%H": () => pad2(d.getHours()),
    "%M": () => pad2(d.getMinutes()),
    "%%": () => "%",
  };
  return format.replace(/%[YmdbBHM%]/g, (t) => parts[t]!());
}

/** Renders a parsed template with the globals Template.render sets, under `budget`. */
export function renderBounded(template: Template, items: Record<string, unknown>, budget: TemplateBudget): string {
  const env = new Environment() as { set(name: string, value: unknown): unknown };
  const globals: Record<string, unknown> = {
    false: false,
    true: true,
    none: null,
    False: false,
    True: true,
    None: null,
    raise_exception: (message: unknown) => {
      throw new Error(String(message));
    },
    range: boundedRange(budget.maxRange),
    strftime_now: strftimeNow,
  };
  for (const [key, value] of Object.entries({ ...globals, ...items })) env.set(key, value);
  const out = new BoundedInterpreter(env, budget).run(template.parsed);
  return out.value as string;
}
