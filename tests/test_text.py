"""The one sentence splitter and heading vocabulary that the reader, the checks and outlines share."""
from medassist.papers.outline import parse_outline
from medassist.papers.text import classify_heading, section_of_heading, sentences


def test_sentences_in_english_and_chinese():
    assert sentences("Readmissions fell by 23%. 95% CI 10-35%. Nurses helped, e.g. by phone.") == [
        "Readmissions fell by 23%.", "95% CI 10-35%.", "Nurses helped, e.g. by phone."]
    assert sentences("再入院率下降。护士随访有效！是否推广？") == ["再入院率下降。", "护士随访有效！", "是否推广？"]
    assert sentences("Compared with placebo vs. usual care, it worked.") == [
        "Compared with placebo vs. usual care, it worked."]
    assert sentences("  ") == []


def test_clauses_split_at_semicolons_too():
    assert sentences("Mortality was 12%; readmission was 18%. Done.", clauses=True) == [
        "Mortality was 12%;", "readmission was 18%.", "Done."]
    assert sentences("死亡率 12%；再入院率 18%。", clauses=True) == ["死亡率 12%；", "再入院率 18%。"]


def test_one_heading_vocabulary_for_papers_drafts_and_outlines():
    assert classify_heading("2. Materials and Methods") == "methods" and classify_heading("Patients") is None
    assert section_of_heading("Background") == "introduction" and section_of_heading("结论") == "discussion"
    assert section_of_heading("题目") == "title" and section_of_heading("References") is None
    # outlines read their headings with the same words the PDF reader and the draft check use
    outline = parse_outline("## 1. Introduction\n- Why\n**Conclusions**\n- So what\n## 方法\n- 随机分组\n")
    assert outline == {"Introduction": ["Why"], "Discussion": ["So what"], "Methods": ["随机分组"]}
