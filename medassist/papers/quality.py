"""Can this document give a faithful summary? Its text layer's quality, and whether it is a biomedical paper.

    python -m medassist.papers.quality paper.pdf          # prints the measures and the notices a user would see

A PDF's text layer can be broken (an old scan's OCR, a font without a Unicode map): words split in two, "fi"
and "fl" lost with their ligatures ("signi cant"), symbols in place of letters. A summary of such text is
confident nonsense. And a paper on software or physics is summarised as if it were a trial. Measured:
- words: the share of words found in an English vocabulary (the bundled MiniLM's 30k-word list: common and
  many medical words); symbol soup lowers it. Clean papers: 0.89-0.96; soup: 0.51-0.57.
- fragments: the share of 1-2 letter "words" that are not real short words (split words leave pieces).
- lost: lost-ligature pieces ("signi cant", "de ned", "e ect") and replacement characters per 1,000 words.
- biomedical: clinical and biomedical words per 1,000 words, and whether the paper's passages are closer in
  meaning to biomedical topics than to others (MiniLM, the vectors the paper was indexed with).
The thresholds are set from the shared papers and deliberately broken copies of them (tests/test_quality.py).
"""
from __future__ import annotations

import re
import sys
from functools import lru_cache

import numpy as np

MIN_WORDS = 0.7  # clean 0.89-0.96, symbol soup 0.51-0.57; a physics text 0.78 (its own jargon): words split in two are caught by fragments
MAX_FRAGMENTS = 0.08
MAX_LOST = 3.0  # clean papers 0-1, a copy with its ligatures lost 4-6
MIN_MEDICAL = 5.0  # per 1,000 words: the shared papers 7-68, NIH text 150; the non-medical samples 0-2
SHORT_WORDS = set("a an as at be by do go he if in is it me my no of on or so to up us we vs mg ml kg mm cm ci "
                  "hr or ii iv pm am bp hb ct mr ml dl".split())
LOST = re.compile(r"\b(?:signi|de|speci|identi|modi|classi|bene|con|in|re|ef|suf|pro|o|e|di|a)\s(?:cant|cantly|ned|ne|"
                  r"cation|ed|ects?|cient|cacy|ciency|rst|nal|nally|ow|ows|uence|ict|icts|ects)\b")
MEDICAL = set("""patient patients clinical disease diseases treatment treatments therapy therapies hospital hospitals
diagnosis diagnostic mortality morbidity trial trials cohort cohorts cell cells gene genes genetic protein proteins
blood drug drugs dose doses dosage symptom symptoms infection infections cancer cancers tumor tumour tumors health
care medical medicine medicines risk outcome outcomes surgery surgical intervention interventions placebo randomized
randomised prevalence incidence epidemiology epidemiological syndrome chronic acute pain nurse nurses nursing
physician physicians clinic clinics pregnancy pregnant maternal infant infants child children mortality survival
serum plasma tissue tissues receptor receptors enzyme mice mouse rats vaccine vaccination antibiotic antibiotics
diabetes cardiac heart stroke lung kidney liver brain injury injuries pathology pathogen virus viral bacterial
hiv malaria tuberculosis obesity hypertension depression anxiety mental psychiatric diagnosed admission admissions
inpatient outpatient rehabilitation healthcare adverse efficacy""".split())
ANCHORS_MED = ["a clinical study of patients with a disease and their treatment",
               "biomedical laboratory research on cells, genes and proteins",
               "public health, epidemiology and health services research",
               "nursing care and rehabilitation of patients in hospital"]
ANCHORS_OTHER = ["particle physics, accelerators and detectors", "software engineering and computer programs",
                 "economics, markets and finance", "mechanical and electrical engineering",
                 "astronomy and astrophysics", "law, politics and history", "mathematics and proofs"]


@lru_cache(maxsize=1)
def vocabulary() -> frozenset[str]:
    """The bundled MiniLM's whole-word vocabulary (no "##" pieces)."""
    try:
        from medassist.model.embed import bundled_path

        words = (bundled_path() / "vocab.txt").read_text(encoding="utf-8").split()
    except (FileNotFoundError, OSError):
        return frozenset()
    return frozenset(w for w in words if w.isalpha())


def measure(text: str) -> dict:
    words = re.findall(r"[A-Za-z]+", text)
    n = max(len(words), 1)
    vocab = vocabulary()
    long = [w.lower() for w in words if len(w) >= 3]
    short = [w.lower() for w in words if len(w) <= 2]
    lost = len(LOST.findall(text)) + text.count("\ufffd") + len(re.findall(r"\(cid:\d+\)", text))
    return {"words": round(sum(w in vocab for w in long) / max(len(long), 1), 3) if vocab else None,
            "fragments": round(sum(w not in SHORT_WORDS for w in short) / n, 3),
            "lost_per_1000": round(1000 * lost / n, 1),
            "medical_per_1000": round(1000 * sum(w.lower() in MEDICAL for w in words) / n, 1),
            "n_words": len(words)}


def biomedical_by_meaning(vectors: np.ndarray, embedder) -> bool | None:
    """Is the paper's centroid closer to a biomedical topic than to any other? None without vectors."""
    if vectors is None or not len(vectors) or embedder is None:
        return None
    centre = vectors.mean(axis=0)
    centre = centre / (np.linalg.norm(centre) or 1.0)
    anchors = embedder.encode(ANCHORS_MED + ANCHORS_OTHER) @ centre
    return bool(anchors[:len(ANCHORS_MED)].max() >= anchors[len(ANCHORS_MED):].max())


def notices(text: str, vectors=None, embedder=None) -> tuple[list[str], dict]:
    """(notice keys, measures): "broken_text" and/or "not_medical" when the document fails the checks."""
    m = measure(text)
    out = []
    if m["n_words"] >= 100 and ((m["words"] is not None and m["words"] < MIN_WORDS) or m["fragments"] > MAX_FRAGMENTS
                                or m["lost_per_1000"] > MAX_LOST):
        out.append("broken_text")
    if re.search(r"[\u4e00-\u9fff]", text) and len(re.findall(r"[\u4e00-\u9fff]", text)) > m["n_words"]:
        return out, m  # a Chinese paper: the word lists are English; no verdict on its subject
    by_meaning = biomedical_by_meaning(vectors, embedder)
    m["biomedical_by_meaning"] = by_meaning
    if m["n_words"] >= 100 and m["medical_per_1000"] < MIN_MEDICAL and by_meaning is not True:
        out.append("not_medical")
    return out, m


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    from medassist.model.embed import load_embedder
    from medassist.papers.passages import PaperIndex
    from medassist.papers.textread import read_paper

    index = PaperIndex.build(read_paper(sys.argv[1]), load_embedder())
    keys, measures = notices(index.text, index.vectors, index.embedder)
    print(measures, "->", keys or "no notice")
