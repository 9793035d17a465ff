"""Summaries that get the paper right: the design, size, headline result and conclusion read from the paper's
own words; the structured abstract first; nothing true removed; titles that are titles; fields in the language
asked for."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from medassist.papers.facts import design_of, facts_line, paper_facts
from medassist.papers.passages import PaperIndex, build_passages
from medassist.papers.pdfread import read_pdf
from medassist.papers.fieldplan import batches_for
from medassist.papers.summarize import SummaryConfig, summarize, to_markdown
from tests.fake import HashEmbedder, ScriptedEngine


@pytest.mark.parametrize("sentence, design", [
    ("We pooled eight studies in a random-effects meta-analysis.", "meta-analysis"),
    ("A systematic review of MEDLINE and Embase was carried out.", "systematic review"),
    ("Patients were randomly assigned to ibuprofen or placebo.", "randomised controlled trial"),
    ("This double-blind, randomized, placebo-controlled trial enrolled 300 adults.", "randomised controlled trial"),
    ("This prospective, non-randomized study compared two techniques.", "cohort study"),
    ("We followed a population-based cohort of 2,462 adults for 20 years.", "cohort study"),
    ("Seventy-five cases and 273 matched controls were enrolled in this case-control study.", "case-control study"),
    ("A cross-sectional survey of 1,200 nurses was conducted.", "cross-sectional study"),
    ("Sensitivity and specificity of the rapid test were estimated against culture.", "diagnostic accuracy study"),
    ("We report a case of a 34-year-old woman with Takayasu arteritis.", "case report or series"),
    ("Semi-structured interviews were analysed with thematic analysis.", "qualitative study"),
    ("Pancreatitis was induced in rats by cerulein.", "laboratory or animal study"),
    ("本研究为一项随机对照试验，共纳入 120 例患者。", "randomised controlled trial"),
    ("采用前瞻性队列研究设计，随访 5 年。", "cohort study"),
    ("我们进行了一项荟萃分析，纳入 8 项研究。", "meta-analysis"),
    ("本研究为横断面调查。", "cross-sectional study"),
    ("采用病例对照研究。", "case-control study"),
    ("We used a Markov state transition decision model to compare warfarin with no anticoagulation.",
     "modelling study"),
    ("DNA was genotyped in 73 newborns with TTN and 55 healthy controls from a Caucasian cohort.", "case-control study"),
])
def test_design_named_in_a_sentence(sentence, design):
    assert design_of(sentence)[0] == design


def test_design_described_but_not_named():
    assert design_of("Fifty patients received drug A and fifty received placebo.", cues=True)[0] == \
        "randomised controlled trial"
    assert design_of("DNA was collected from 73 newborns and 55 healthy controls.", cues=True)[0] == "case-control study"
    assert design_of("Children were followed up for five years.", cues=True)[0] == "cohort study"
    assert design_of("Nurses completed a questionnaire.", cues=True)[0] == "cross-sectional study"


@pytest.mark.parametrize("sentence", [
    "The primary physis is responsible for longitudinal bone growth.",  # not a longitudinal study
    "Qualitative (visual) interpretation of the SPECT data found no difference.",  # not a qualitative study
    "Digital tomosynthesis for the follow-up of nephrolithiasis.",  # imaging used in follow-up, not a cohort
])
def test_words_that_look_like_a_design_but_are_not(sentence):
    assert design_of(sentence) is None


def test_sampling_at_random_is_not_randomisation():
    assert design_of("Cells were counted in a blind review of 42 randomly selected biopsies.", cues=True) is None
    assert design_of("Forty patients were randomized prospectively to 9 or 15 months.", cues=True)[0] == \
        "randomised controlled trial"


def test_retrospective_records_of_cases_and_controls_are_a_case_control_study():
    idx = index_of({"methods": "A total of 20 failure cases and 20 randomly selected controls were included in this "
                               "retrospective study."})
    assert paper_facts(idx)["design"].value == "case-control study"


def test_animal_words_do_not_make_a_study_of_people_an_animal_study():
    idx = index_of({"methods": "The study was performed in 164 obese and 94 normal-weight individuals (controls). "
                               "In addition, we performed in-vitro experiments in murine macrophages."})
    assert paper_facts(idx)["design"].value == "case-control study"


def test_the_model_reads_the_design_only_where_the_paper_is_silent_and_it_says_so():
    silent = {"methods": "Patients referred for reflux underwent 24-h pH monitoring. The raw data were corrected "
                         "by visual inspection."}
    from medassist.papers.facts import MODEL_CHOICES

    engine = ScriptedEngine("ABCDEFGHIJKLMN"[MODEL_CHOICES.index("diagnostic accuracy study")])
    idx = index_of(silent)
    assert "design" not in paper_facts(idx)
    events = list(summarize(SimpleNamespace(**vars(idx), text="", similarity=lambda b: [[1.0]] * len(b),
                                            search=lambda *a, **k: []), engine,
                            SummaryConfig(fields=(), design_by_model="always")))
    facts = [e["facts"] for e in events if e["type"] == "facts"]
    d = facts[-1]["design"]
    assert d.value == "diagnostic accuracy study" and d.where.endswith("(the model's reading)")
    assert "Which study design" in engine.prompts[-1] and "reflux" in engine.prompts[-1]
    assert "the model's reading of the methods" in facts_line(facts[-1])[0]
    # a paper that names its design is never sent to the model for it
    named = ScriptedEngine("A")
    list(summarize(SimpleNamespace(**vars(index_of({"methods": "A cross-sectional survey of 96 men."})), text="",
                                   similarity=lambda b: [], search=lambda *a, **k: []), named,
                   SummaryConfig(fields=(), design_by_model="always")))
    assert not getattr(named, "prompts", [])
    # by default only a server's model is asked (the bundled one was right on 50% of held-out papers)
    local = ScriptedEngine("A")
    list(summarize(SimpleNamespace(**vars(idx), text="", similarity=lambda b: [], search=lambda *a, **k: []), local,
                   SummaryConfig(fields=())))
    assert not getattr(local, "prompts", [])


def index_of(paper_text: dict[str, str], title="A study", abstract: dict | None = None):
    """A paper from {kind: text}, passages built as the reader builds them (no embeddings needed for facts)."""
    from medassist.papers.pdfread import Paper, Paragraph, Section

    sections = [Section(kind.title(), kind, [Paragraph(2, text)]) for kind, text in paper_text.items()]
    paper = Paper(title=title, pages=3, sections=sections, references=[], abstract=abstract or {}, skipped_pages=[])
    return SimpleNamespace(paper=paper, passages=build_passages(paper))


def test_the_abstracts_methods_outvote_the_discussion():
    idx = index_of({"methods": "We analysed a population-based cohort of 2,462 adults followed for 25 years.",
                    "discussion": "Randomised controlled trials are needed to confirm this."},
                   abstract={"methods": "A longitudinal population-based cohort study of 2,462 adults.",
                             "results": "Neither exposure was associated with dementia (HR 0.99, 95% CI 0.81-1.21).",
                             "conclusions": "Life events were not associated with incident dementia. The hypothesis "
                                            "is rejected."})
    f = paper_facts(idx)
    assert f["design"].value == "cohort study" and f["design"].where == "abstract:methods"
    assert f["size"].value == "2,462 adults"
    assert "HR 0.99" in f["result"].value and f["result"].where == "abstract:results"
    assert f["conclusion"].value.startswith("Life events were not associated") and f["conclusion"].page == 1
    lines = facts_line(f)
    assert lines[0] == "**Design:** cohort study (2,462 adults) [p. 1]" and "HR 0.99" in lines[1]
    zh = facts_line(f, "zh")
    assert zh[0].startswith("**研究设计：**队列研究") and "（原文）" in zh[1]


def test_a_meta_analysis_is_not_a_trial_and_its_studies_are_counted():
    idx = index_of({}, abstract={"methods": "We searched PubMed and pooled eight randomised trials in a meta-analysis.",
                                 "results": "Eradication raised haemoglobin (WMD 4.06 g/L, 95% CI 1.9-6.2; p<0.001)."})
    f = paper_facts(idx)
    assert f["design"].value == "meta-analysis" and f["size"].value == "8 trials"
    assert "WMD 4.06" in f["result"].value


def test_an_unlabelled_abstract_ends_with_its_conclusion():
    idx = index_of({"front": "To study X. We enrolled 120 patients. Mortality fell from 18% to 12% (p=0.03). "
                             "Early treatment may reduce mortality in these patients."})
    f = paper_facts(idx)
    assert f["conclusion"].value == "Early treatment may reduce mortality in these patients."
    assert "p=0.03" in f["result"].value


@pytest.fixture
def structured(tmp_path):
    from tests.pdfs import two_column_paper

    return PaperIndex.build(read_pdf(two_column_paper(tmp_path / "p.pdf")), HashEmbedder())


def test_the_structured_abstract_leads_its_field(structured):
    results = batches_for(structured, "results", SummaryConfig())[0]
    assert results[0].kind == "abstract:results" and results[0].text.startswith("Readmissions fell by 23%")
    # (the test paper's other abstract parts are too short to be passages: their fields start from the body)
    assert batches_for(structured, "methods", SummaryConfig())[0][0].kind != "abstract:results"


def test_facts_come_first_in_the_summary_and_its_exports(structured):
    engine = ScriptedEngine("- Readmissions fell from 41 to 18 of 120 patients [p. 2].\n")
    events = list(summarize(structured, engine, SummaryConfig(fields=("results",), drop_below=0.0)))
    assert events[0]["type"] == "facts"
    s = events[-1]["summary"]
    md = to_markdown(s)
    assert s.facts and md.index("**") < md.index("## Results")
    assert "facts" in s.to_json() and all({"value", "evidence", "page"} <= set(v) for v in s.to_json()["facts"].values())


def test_a_true_sentence_is_never_removed(structured):
    """Even when the meaning check finds nothing close (drop_below near 1), a sentence whose words and numbers a
    passage states stays; an invented one still goes."""
    true = next(p.text for p in structured.passages if "41" in p.text)
    sentence = " ".join(true.split()[:9]).rstrip(".,;") + "."  # "Readmissions fell from 41 to 18 of 120 patients."
    engine = ScriptedEngine(f"- {sentence} [p. 2]\n- Quantum entanglement explains cardiology outcomes across galaxies [p. 2].\n")
    events = list(summarize(structured, engine, SummaryConfig(fields=("results",), drop_below=0.99)))
    s = events[-1]["summary"]
    assert [b.text for b in s.fields["results"]] == [sentence]
    assert [d["sentence"] for d in s.dropped] == ["Quantum entanglement explains cardiology outcomes across galaxies."]


def test_chinese_fields_are_chinese(structured):
    def reply(prompt):
        if "翻译成中文" in prompt:
            return "- 再入院人数从 41 降至 18 [p. 2]\n"
        return "- Readmissions fell from 41 to 18 [p. 2]\n"

    engine = ScriptedEngine(reply)
    s = list(summarize(structured, engine, SummaryConfig(lang="zh", fields=("results",))))[-1]["summary"]
    assert [b.text for b in s.fields["results"]] == ["再入院人数从 41 降至 18"] and s.stats["translated"] == 1


def test_titles_skip_journal_headers_and_stamps(tmp_path):
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((50, 40), "Clinical Science www.clinsci.org", fontsize=20)
    page.insert_text((50, 70), "arXiv:2101.00001v1 [q-bio.QM] 3 Jan 2021", fontsize=20)
    page.insert_text((50, 110), "Life events and incident dementia in a population cohort", fontsize=16)
    page.insert_text((50, 140), "A. Author, B. Author", fontsize=10)
    y = 170
    for i in range(30):
        page.insert_text((50, y), f"Body text line {i} about the participants and the outcomes measured here.",
                         fontsize=10)
        y += 14
    doc.set_metadata({"title": "Microsoft Word - draft3.docx"})
    doc.save(tmp_path / "t.pdf")
    assert read_pdf(tmp_path / "t.pdf").title == "Life events and incident dementia in a population cohort"
