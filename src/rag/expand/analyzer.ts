// The English analyzer used for term statistics and pseudo-relevance feedback: split on anything
// that is not a letter or digit, lowercase, drop stop words, Porter2 (Snowball English) stemming —
// the same steps as the store's default full-text index. Leaves out other languages.
import stem from "wink-porter2-stemmer";

/** One analyzed token: the index term (stem) and the word it came from. */
export interface AnalyzedToken {
  term: string;
  surface: string;
}

export interface AnalyzerOptions {
  /** Apply Porter2 stemming; default true. */
  stem?: boolean;
  /** Words to drop (lowercase); default the Snowball English list. */
  stopWords?: ReadonlySet<string>;
  /** Tokens longer than this are dropped, as the full-text index does; default 40. */
  maxTokenLength?: number;
}

export interface Analyzer {
  analyze(text: string): AnalyzedToken[];
}

const WORD = /[\p{L}\p{N}]+/gu;

// The Snowball English stop word list (the one Snowball's English stemmer ships with).
export const ENGLISH_STOP_WORDS: ReadonlySet<string> = new Set(
  (
    "i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers " +
    "herself it its itself they them their theirs themselves what which who whom this that these those am is " +
    "are was were be been being have has had having do does did doing would should could ought i'm you're " +
    "he's she's it's we're they're i've you've we've they've i'd you'd he'd she'd we'd they'd i'll you'll " +
    "he'll she'll we'll they'll isn't aren't wasn't weren't hasn't haven't hadn't doesn't don't didn't won't " +
    "wouldn't shan't shouldn't can't cannot couldn't mustn't let's that's who's what's here's there's when's " +
    "where's why's how's a an the and but if or because as until while of at by for with about against " +
    "between into through during before after above below to from up down in out on off over under again " +
    "further then once here there when where why how all any both each few more most other some such no nor " +
    "not only own same so than too very"
  ).split(" "),
);

export function englishAnalyzer(options: AnalyzerOptions = {}): Analyzer {
  const stopWords = options.stopWords ?? ENGLISH_STOP_WORDS;
  const useStem = options.stem ?? true;
  const maxLength = options.maxTokenLength ?? 40;
  const cache = new Map<string, string>();
  const stemOf = (w: string): string => {
    let s = cache.get(w);
    if (s === undefined) {
      s = useStem ? stem(w) : w;
      if (cache.size < 200_000) cache.set(w, s);
    }
    return s;
  };
  return {
    analyze(text) {
      const out: AnalyzedToken[] = [];
      for (const match of text.toLowerCase().matchAll(WORD)) {
        const surface = match[0];
        if (surface.length > maxLength || stopWords.has(surface)) continue;
        out.push({ term: stemOf(surface), surface });
      }
      return out;
    },
  };
}
