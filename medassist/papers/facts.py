"""The facts a clinician reads a summary for, taken from the paper's own words before any prose is written:
study design, size, headline result and the authors' conclusion — each with the sentence that states it and
its page.

    facts = paper_facts(index)          # {"design": Fact, "size": Fact, "result": Fact, "conclusion": Fact}
    design_of("We pooled eight randomised trials in a meta-analysis.")   # -> ("meta-analysis", ...)

Deterministic where the text is reliable: the structured abstract's own parts (the reader splits them) come
first, then the title, then the body's IMRaD sections, and design is read from design words in that order of
places (the first place that names a design decides, so "further randomised trials are needed" in a cohort's
discussion cannot outvote "a population-based cohort" in its methods). A fact nothing in the paper states is
left out rather than guessed.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from medassist.papers.text import sentences

# Most specific first: a meta-analysis of randomised trials is a meta-analysis.
DESIGNS: list[tuple[str, str, str]] = [  # (design, English pattern, Chinese pattern)
    ("meta-analysis", r"meta-?analys[ie]s|pooled analysis of \w+ (?:studies|trials)", r"荟萃分析|[Mm]eta\s*分析"),
    ("systematic review", r"systematic(?:ally)? review", r"系统评价|系统综述"),
    ("randomised controlled trial", r"(?<!non-)(?<!non)randomi[sz]ed(?:[\s,-]+\w+){0,4}[\s-]+(?:trial|study|manner|fashion)|randomly "
                                    r"(?:assigned|allocated|divided)|random allocation|\bRCT\b|double[\s-]blind",
     r"随机对照|随机分组|随机分配|双盲"),
    ("non-randomised trial", r"(?:single-arm|open-label|phase (?:i|ii|iii|1|2|3)|non-?randomi[sz]ed|controlled) trial",
     r"临床试验|非随机"),
    ("case-control study", r"case[\s-]+control|cases and (?:\w+ )?controls|\b\d+ (?:[\w-]+ ){0,2}controls\b", r"病例对照"),
    # "follow-up study", not "for the follow-up of patients" (a title about imaging used in follow-up).
    ("cohort study", r"cohort|longitudinal(?:ly)? (?:study|design|data|analysis|follow)|follow(?:ed)?[\s-]+up study|prospective(?:ly)?,? (?:[\w-]+ )?(?:study|"
                     r"followed|enrolled|collected|evaluated|analy[sz]ed)",
     r"队列|随访研究|纵向研究"),
    ("cross-sectional study", r"cross[\s-]+sectional|(?:questionnaire|telephone|online|national|postal) survey"
                              r"|prevalence study", r"横断面|问卷调查"),
    ("diagnostic accuracy study", r"diagnostic accuracy|sensitivity and specificity|receiver operating",
     r"诊断准确|敏感性和特异性|灵敏度和特异度"),
    ("case report or series", r"case (?:report|series)|we (?:report|describe|present) (?:a|an|the|two|three) (?:case|patient)",
     r"病例报告|个案报道|病例系列"),
    ("qualitative study", r"qualitative (?:study|research|design|methods?|interviews?|approach|analysis|data)|semi-?structured interviews?|focus groups?|thematic analysis", r"质性研究|定性研究|访谈"),
    ("modelling study", r"decision[\s-]analy[st]|markov(?:[\s-]+\w+){0,3}[\s-]+model|simulation model|"
                        r"mathematical model", r"决策分析|马尔可夫|数学模型"),
    ("retrospective study", r"retrospective(?:ly)?|chart review|medical records (?:of|were reviewed)", r"回顾性"),
    ("laboratory or animal study", r"\bin vitro\b|\bmice\b|\brats?\b|cell lines?|animal model", r"体外|小鼠|大鼠|细胞系|动物模型"),
]
DESIGN_ZH = {"meta-analysis": "荟萃分析", "systematic review": "系统评价", "randomised controlled trial": "随机对照试验",
             "non-randomised trial": "非随机临床试验", "case-control study": "病例对照研究", "cohort study": "队列研究",
             "cross-sectional study": "横断面研究", "diagnostic accuracy study": "诊断准确性研究",
             "case report or series": "病例报告/系列", "qualitative study": "质性研究", "retrospective study": "回顾性研究",
             "modelling study": "模型/决策分析研究", "laboratory or animal study": "实验室/动物研究"}
_COMPILED = [(d, re.compile(en, re.I), re.compile(zh)) for d, en, zh in DESIGNS]
# When no design is named, what the methods describe, most telling first: the species, randomisation, a comparison
# with controls, follow-up over time, a survey at one time, records looked back on.
CUES: list[tuple[str, str, str]] = [
    ("laboratory or animal study", r"\b(?:rats?|mice|murine|dogs?|canine|pigs?|porcine|piglets?|rabbits?|sheep|ovine|"
                                   r"ewes?|bovine|cattle|rodents?|hamsters?|guinea pigs?|monkeys?|primates|horses|equine|"
                                   r"zebrafish)\b",
     r"大鼠|小鼠|家兔|犬|猪"),
    # "randomly selected biopsies" or "a random sample" is sampling, not allocation.
    ("randomised controlled trial", r"(?<!non-)(?<!non)randomi[sz](?:ed|ation)(?! sample)|randomly (?:assigned|"
                                    r"allocated|divided)|placebo", r"(?<!非)随机(?!抽)|安慰剂"),
    ("case-control study", r"\b(?:\d+|healthy|matched|age-matched) (?:[\w-]+ ){0,2}controls\b|\(controls?\)|served as "
                           r"(?:the )?controls?|comprised the control group|control (?:subjects|individuals|"
                           r"participants|women|men|children)|healthy (?:[\w-]+ )?(?:volunteers|subjects|individuals)|"
                           r"compared (?:with|to) (?:\d+ )?(?:healthy|normal|age-matched)", r"对照组|健康对照"),
    ("cohort study", r"follow(?:ed)?[\s-]+up|were followed|prospective(?:ly)?|incidence|over a period of \d+",
     r"随访|前瞻性"),
    ("cross-sectional study", r"survey|questionnaire|prevalence|interviewed", r"调查|问卷|患病率"),
    ("retrospective study", r"retrospective(?:ly)?|(?:medical|hospital|clinical) (?:records|charts)|were reviewed",
     r"回顾"),
]
_CUES = [(d, re.compile(en, re.I), re.compile(zh)) for d, en, zh in CUES]
_CUE_OF = {d: (en, zh) for d, en, zh in _CUES}
HUMANS = re.compile(r"\b(?:\d+|[A-Z]?[a-z]+-?(?:one|two|three|four|five|six|seven|eight|nine|ty|teen|hundred))\s+"
                    r"(?:[\w-]+\s+){0,2}(?:patients|participants|individuals|subjects|women|men|children|adults|"
                    r"volunteers|infants|newborns|mothers)\b|例患者|名患者", re.I)
EFFECT = re.compile(r"\b(?:HR|OR|RR|aOR|aHR|IRR|WMD|SMD|MD|NNT|AUC|ARR|RRR)\b|hazard ratio|odds ratio|risk ratio|"
                    r"relative risk|mean difference|95\s*%\s*(?:CI|confidence)|\bp\s*[<=>≤]\s*0?\.\d|"
                    r"风险比|比值比|置信区间", re.I)
SIZE = re.compile(r"\b(\d{1,3}(?:[,\s]\d{3})+|\d+)\s+(?:[a-z-]+\s+)?"
                  r"(participants|patients|subjects|individuals|people|adults|children|women|men|cases|infants|"
                  r"respondents|residents|volunteers|studies|trials|articles|eyes|pregnancies)\b", re.I)
WORD_NUMBERS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve "
                                           "thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty".split())}
SIZE_WORDS = re.compile(r"\b(" + "|".join(WORD_NUMBERS) + r")\s+(?:[a-z-]+\s+)?(studies|trials|articles|cohorts|"
                        r"patients|participants)\b", re.I)
SIZE_ZH = re.compile(r"(\d[\d,]*)\s*(?:例|名|位|项研究|篇)")


@dataclass
class Fact:
    value: str  # what is stated ("cohort study", "2,462 participants", the sentence itself for result/conclusion)
    evidence: str  # the sentence of the paper that states it
    page: int
    where: str  # which part of the paper: "title", "abstract:methods", "methods", ...

    def to_dict(self) -> dict:
        return asdict(self)


def design_of(text: str, cues: bool = False) -> tuple[str, str] | None:
    """(design, the words that name it) for the most specific design the text names, else None; cues=True reads
    what the text describes instead (CUES), for papers that never name their design."""
    for design, en, zh in (_CUES if cues else _COMPILED):
        if m := (en.search(text) or zh.search(text)):
            return design, m.group(0)
    return None


def _places(index) -> list[tuple[str, int, str]]:
    """(where, page, text) in the order facts are looked for: abstract parts, title, then the body by section."""
    paper = index.paper
    out = []
    abstract = [p for p in index.passages if p.kind.startswith("abstract:")]
    order = {"abstract:methods": 0, "abstract:background": 1, "abstract:results": 2, "abstract:conclusions": 3}
    for p in sorted(abstract, key=lambda p: (order.get(p.kind, 4), p.id)):
        out.append((p.kind, p.page, p.text))
    if paper.title:
        out.append(("title", 1, paper.title))
    for kind in ("abstract", "front", "methods", "background", "results", "conclusions", "discussion", "other"):
        out += [(p.kind, p.page, p.text) for p in index.passages if p.kind == kind]
    return out


def _design(places) -> Fact | None:
    # Where a design is named, in order of trust: the abstract's methods and the title, then the rest of the
    # abstract, then the body's methods; the discussion last (it talks about other designs: "trials are needed").
    tiers = [("abstract:methods", "title"), ("abstract:background", "abstract:results", "abstract:conclusions",
                                             "abstract:other", "abstract", "front"), ("methods",),
             ("background", "results", "other"), ("conclusions", "discussion")]
    for tier in tiers:
        best = None
        for where, page, text in places:
            if where not in tier:
                continue
            for s in sentences(text):
                hit = design_of(s)
                if hit and (best is None or _rank(hit[0]) < _rank(best[0])):
                    best = (hit[0], s, page, where)
        if best and best[0] == "retrospective study":
            # "Retrospective" is when the data were gathered, not a design: records of cases and of controls
            # are a case-control study.
            cc = next(((s, page, where) for where, page, text in places if where in tier for s in sentences(text)
                       if _CUE_OF["case-control study"][0].search(s) or _CUE_OF["case-control study"][1].search(s)), None)
            if cc:
                return Fact("case-control study", cc[0], cc[1], cc[2] + " (described, not named)")
        if best:
            return Fact(best[0], best[1], best[2], best[3])
    # No design named anywhere: what the abstract and methods describe (the first cue, in CUES order, decides).
    text = [(s, page, where) for where, page, t in places if where.startswith(("abstract", "front", "methods", "title"))
            for s in sentences(t)]
    humans = any(HUMANS.search(s) for s, _, _ in text)
    for design, en, zh in _CUES:
        if design == "laboratory or animal study" and humans:
            continue  # "murine macrophages" in a study of 164 obese and 94 normal-weight individuals
        for s, page, where in text:
            if en.search(s) or zh.search(s):
                return Fact(design, s, page, where + " (described, not named)")
    return None


MODEL_CHOICES = [d for d, _, _ in DESIGNS if d != "retrospective study"]


def design_by_model(index, engine) -> Fact | None:
    """The design as the model reads the methods, for a paper that neither names its design nor describes it in
    the cue words: one short call without reasoning, one design from the list. The evidence is the passage it
    read, and the fact says it is the model's reading (the reader can check the passage)."""
    places = _places(index)
    read = ([x for x in places if x[0] in ("abstract:methods", "methods")]
            or [x for x in places if x[0] in ("abstract", "front", "abstract:background", "abstract:other")])
    if not read:
        return None
    where, page, text = read[0]
    text = " ".join(sentences(text)[:12])[:1800]
    letters = "ABCDEFGHIJKLMN"[:len(MODEL_CHOICES)]
    options = "\n".join(f"{letters[i]}. {d}" for i, d in enumerate(MODEL_CHOICES))
    ask = (f"Methods of a medical research paper:\n\n{text}\n\nWhich study design is this?\n{options}\n"
           "Answer with the letter only.")
    letter = engine.choose([{"role": "user", "content": ask}], letters)
    design = MODEL_CHOICES[letters.index(letter)] if letter else None
    return Fact(design, text, page, where + " (the model's reading)") if design else None


def _rank(design: str) -> int:
    return next(i for i, (d, _, _) in enumerate(DESIGNS) if d == design)


def _size(places) -> Fact | None:
    for where, page, text in places:
        if where.startswith(("abstract", "title", "methods", "results")):
            for s in sentences(text):
                if m := SIZE.search(s):
                    return Fact(f"{m.group(1)} {m.group(2).lower()}", s, page, where)
                if m := SIZE_WORDS.search(s):
                    return Fact(f"{WORD_NUMBERS[m.group(1).lower()]} {m.group(2).lower()}", s, page, where)
                if m := SIZE_ZH.search(s):
                    return Fact(m.group(0), s, page, where)
    return None


SIGNIFICANT = re.compile(r"significant(?:ly)?|显著", re.I)


def _result(places) -> Fact | None:
    """The results sentence with the most effect measures: the abstract's results part, else the body's results,
    else an unlabelled abstract's sentences (a result states an effect, a p-value, or a significant difference)."""
    for kinds in (("abstract:results",), ("results",), ("abstract", "front", "abstract:other")):
        cands = [(len(EFFECT.findall(s)) + len(SIGNIFICANT.findall(s)) + len(re.findall(r"\d+(?:\.\d+)?\s?%", s)) / 2,
                  s, page, where) for where, page, text in places if where in kinds for s in sentences(text)]
        cands = [c for c in cands if c[0] >= 1]
        if cands:
            _, s, page, where = max(cands, key=lambda c: c[0])
            return Fact(s, s, page, where)
    return None


CONCLUDE = re.compile(r"\b(?:we conclude|in conclusion|these (?:findings|results|data) (?:suggest|indicate|show)|"
                      r"our (?:findings|results|data) (?:suggest|indicate|show)|this study (?:suggests|shows|indicates))\b"
                      r"|综上|总之|结论", re.I)


def _conclusion(places) -> Fact | None:
    for where, page, text in places:
        if where == "abstract:conclusions":
            s = sentences(text)
            return Fact(" ".join(s[:2]), " ".join(s[:2]), page, where) if s else None
    for where, page, text in places:
        if where in ("conclusions", "discussion", "abstract", "front"):
            for s in sentences(text):
                if CONCLUDE.search(s):
                    return Fact(s, s, page, where)
    # An abstract without labels ends with its conclusion: the last sentence of its last passage, when it reads
    # like one (it judges or recommends rather than reports a number).
    front = [(page, text) for where, page, text in places if where in ("front", "abstract")]
    if front:
        page, text = front[-1]
        last = sentences(text)[-1] if sentences(text) else ""
        if last and JUDGES.search(last) and not EFFECT.search(last):
            return Fact(last, last, page, "abstract (last sentence)")
    return None


JUDGES = re.compile(r"\b(?:suggests?|indicates?|shows?|demonstrates?|conclude|may|might|should|could|can|appears?|"
                    r"seems?|supports?|recommended?|is (?:not )?(?:associated|related|effective|safe|useful|reliable|"
                    r"necessary|a (?:risk|useful|reliable))|are (?:not )?(?:associated|related|effective|safe|useful))\b"
                    r"|提示|表明|建议|可能", re.I)


def paper_facts(index) -> dict[str, Fact]:
    """The facts the paper states about itself, each with its evidence; a fact not found is absent."""
    places = _places(index)
    found = {"design": _design(places), "size": _size(places), "result": _result(places),
             "conclusion": _conclusion(places)}
    return {k: v for k, v in found.items() if v is not None}


def facts_line(facts: dict[str, Fact], lang: str = "en") -> list[str]:
    """The facts as lines for the top of a summary: design and size in the summary's language; the result and
    the conclusion quoted from the paper (a quote is evidence, so it stays in the paper's words)."""
    zh = lang == "zh"
    out = []
    if d := facts.get("design"):
        size = facts.get("size")
        value = DESIGN_ZH.get(d.value, d.value) if zh else d.value
        out.append(("**研究设计：**" if zh else "**Design:** ") + value + (f"（{size.value}）" if zh and size else
                                                                              f" ({size.value})" if size else "")
                   + (("（模型据方法部分判断）" if zh else " — the model's reading of the methods")
                      if d.where.endswith("(the model's reading)") else "") + f" [p. {d.page}]")
    for key, en, cn in (("result", "Headline result", "主要结果"), ("conclusion", "Authors' conclusion", "作者结论")):
        if f := facts.get(key):
            out.append((f"**{cn}（原文）：** " if zh else f"**{en}:** ") + f"“{f.value}” [p. {f.page}]")
    return out
