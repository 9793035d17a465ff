"""Search helpers shared by the bundled reference and the user's library: query terms, synonyms, fusion.

    python -m medassist.papers.search "心梗的症状"        # -> the English terms a Chinese question searches with

- Terms: a bilingual term list (assets/knowledge/terms.tsv: one concept a line, its English names and
  abbreviations, then Chinese names) so that "MI", "heart attack" and "心肌梗死" meet; abbreviations found
  in the indexed text itself ("acute lymphoblastic leukemia (ALL)") add to it.
- fts_query: the words of a question as an SQLite FTS5 OR-query (each a quoted string: a question can never
  be read as FTS syntax), stop words left out.
- rrf: reciprocal-rank fusion of several rankings (lexical and dense rank on different scales; ranks fuse).
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from medassist.model.paths import ASSETS

TERMS = ASSETS / "knowledge" / "terms.tsv"
CJK = re.compile(r"[\u3400-\u9fff]")
TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.'’]*(?<![.])")  # names are matched word by word ("P.A.D." is one)
WORD = re.compile(r"[A-Za-z][A-Za-z0-9'’-]*|\d+(?:\.\d+)?")
STOP = set("""a an and are as at be been being by can could do does did for from had has have how i if in into is it
its me my of on or our should so than that the their them then there these they this those to was we were what
when where which who whom why will with would you your about after before between during more most other some
such any all also not no only very may might must shall get gets got much many one ones (are) is""".split())
# An abbreviation in parentheses after its long form: "acute lymphoblastic leukemia (ALL)".
ABBR = re.compile(r"((?:[A-Za-z][\w'-]*[ -]){1,7})\(([A-Z][A-Za-z0-9]{1,7})\)")


def is_abbreviation(name: str) -> bool:
    """Matched case-sensitively ("MI", "AFib", "H1N1"): as words, "all" and "ALL" are not the same."""
    return bool(re.fullmatch(r"[A-Z][A-Za-z0-9.-]{0,7}", name)) and sum(c.isupper() for c in name) >= 2


@dataclass
class Terms:
    concepts: list[list[str]] = field(default_factory=list)  # each: English names first, then Chinese ones

    @classmethod
    def load(cls, path: Path = TERMS) -> "Terms":
        concepts = []
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                names = [n.strip() for n in line.split("\t") if n.strip()]
                if names and not line.startswith("#"):
                    concepts.append(names)
        return cls(concepts)

    def add_abbreviations(self, pairs: dict[str, str]) -> None:
        """Abbreviations found in the indexed text (abbreviation -> its most frequent long form), unless known."""
        known = {n for c in self.concepts for n in c}
        for short, long in pairs.items():
            if short not in known:
                self.concepts.append([long, short])

    def _lookup(self) -> tuple[dict, dict, list]:
        """name -> concept indexes: English names by their lower-case words, abbreviations as written, and the
        Chinese names longest first (built once; a question is then matched by its word n-grams, not by regexes)."""
        if getattr(self, "_tables", None) is None or self._tables[3] != len(self.concepts):
            english, abbrev, cjk = {}, {}, []
            for i, names in enumerate(self.concepts):
                for n in names:
                    if CJK.search(n):
                        cjk.append((n, i))
                    elif is_abbreviation(n):
                        abbrev.setdefault(n, []).append(i)
                    elif len(n) >= 3:
                        english.setdefault(tuple(TOKEN.findall(n.lower())), []).append(i)
            self._tables = (english, abbrev, sorted(cjk, key=lambda x: -len(x[0])), len(self.concepts))
        return self._tables[:3]

    def matches(self, text: str) -> list[list[str]]:
        """The concepts named in the text (Chinese names longest first, so 急性心肌梗死 is not also read as 心梗)."""
        english, abbrev, cjk = self._lookup()
        found: list[int] = []
        low = TOKEN.findall(text.lower())
        for size in range(6, 0, -1):
            for i in range(len(low) - size + 1):
                found += [c for c in english.get(tuple(low[i:i + size]), []) if c not in found]
        for tok in TOKEN.findall(text):
            found += [c for c in abbrev.get(tok, []) if c not in found]
        masked = text
        for n, c in cjk:
            if n in masked:
                masked = masked.replace(n, " ")
                if c not in found:
                    found.append(c)
        return [self.concepts[c] for c in found]

    def english(self, text: str, per_concept: int = 0) -> list[str]:
        """English names of the concepts the text names (for the search; the reference is English); per_concept > 0
        keeps each concept's first names only (its usual names: a dense query reads best short)."""
        out: list[str] = []
        for names in self.matches(text):
            latin = [n for n in names if not CJK.search(n) and n not in out]
            out += latin[:per_concept] if per_concept else latin
        return out


def find_abbreviations(texts, min_count: int = 2) -> dict[str, str]:
    """Abbreviations defined in the texts: "... acute lymphoblastic leukemia (ALL) ..." -> {"ALL": "acute …"}.
    The long form is the shortest run of words before the parenthesis whose initials spell the abbreviation."""
    counts: dict[tuple[str, str], int] = {}
    for text in texts:
        for m in ABBR.finditer(text):
            short, words = m.group(2), [w for w in re.split(r"[ -]", m.group(1).strip()) if w]
            letters = [c for c in short.lower() if c.isalpha()]
            for k in range(1, len(words) + 1):
                tail = words[-k:]
                if [w[0].lower() for w in tail] == letters[:k] and k == len(letters):
                    key = (short, " ".join(tail).lower())
                    counts[key] = counts.get(key, 0) + 1
                    break
    best: dict[str, tuple[int, str]] = {}
    for (short, long), n in counts.items():
        if n >= min_count and n > best.get(short, (0, ""))[0]:
            best[short] = (n, long)
    return {s: long for s, (_, long) in best.items()}


def words(text: str) -> list[str]:
    """The content words of a question (lower case, stop words out), in order, each once."""
    out: list[str] = []
    for w in WORD.findall(text):
        w = w.lower().strip("'’-")
        if w and w not in STOP and w not in out and (len(w) > 1 or w.isdigit()):
            out.append(w)
    return out


def fts_query(text: str, extra: list[str] = ()) -> str:
    """An FTS5 OR-query over the question's words and extra phrases (synonyms), every term quoted."""
    terms = words(text) + [e.lower() for e in extra]
    seen, parts = set(), []
    for term in terms:
        term = re.sub(r"[^\w\s'-]", " ", term).strip()
        if term and term not in seen:
            seen.add(term)
            parts.append('"' + term.replace('"', "") + '"')
    return " OR ".join(parts)


def rrf(rankings: list[list], k: int = 60, weights: list[float] | None = None) -> list:
    """Items of several best-first rankings, fused by (weighted) reciprocal rank (Cormack et al. 2009; k=60)."""
    score: dict = {}
    for ranking, w in zip(rankings, weights or [1.0] * len(rankings)):
        for r, item in enumerate(ranking):
            score[item] = score.get(item, 0.0) + w / (k + r + 1)
    return sorted(score, key=lambda i: -score[i])


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    q = " ".join(sys.argv[1:])
    terms = Terms.load()
    print("words:", words(q))
    print("concepts:", terms.english(q))
    print("fts:", fts_query(q, terms.english(q)))
