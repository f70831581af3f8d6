// The readable part of a truncated JSON document: the longest prefix that ends after a complete
// value, with its open objects and arrays closed. For repairing a damaged collection.json; a
// number or literal counts as complete only when a delimiter follows it (so "12" of "123" is not).

interface Open {
  close: "}" | "]";
  /** Inside an object: the next string is a key. */
  expectKey: boolean;
}

/** The salvaged value, or undefined if not even one complete member is readable. */
export function salvageJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // read what it can below
  }
  const stack: Open[] = [];
  let cut: { at: number; closers: string } | undefined;
  const completed = (at: number) => {
    if (stack.length > 0)
      cut = {
        at,
        closers: stack
          .map((o) => o.close)
          .reverse()
          .join(""),
      };
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "{" || c === "[") {
      stack.push({ close: c === "{" ? "}" : "]", expectKey: c === "{" });
      i++;
    } else if (c === "}" || c === "]") {
      if (stack.pop()?.close !== c) return salvaged(text, cut);
      i++;
      completed(i);
    } else if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (j >= text.length) break; // the string was cut
      i = j + 1;
      const top = stack[stack.length - 1];
      if (top?.expectKey) top.expectKey = false;
      else completed(i);
    } else if (c === ",") {
      const top = stack[stack.length - 1];
      if (top?.close === "}") top.expectKey = true;
      i++;
    } else if (/[\s:]/.test(c)) i++;
    else {
      let j = i;
      while (j < text.length && /[-+.\w]/.test(text[j]!)) j++;
      if (j === i || j >= text.length) break; // garbage, or a number or literal that may be cut
      i = j;
      completed(i);
    }
  }
  return salvaged(text, cut);
}

function salvaged(text: string, cut: { at: number; closers: string } | undefined): unknown {
  if (!cut) return undefined;
  try {
    return JSON.parse(text.slice(0, cut.at) + cut.closers) as unknown;
  } catch {
    return undefined;
  }
}
