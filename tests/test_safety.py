"""Red-flag detection and identifier redaction, in Chinese and English, with false-positive cases."""
import pytest

from medassist.store.safety import red_flags, redact


@pytest.mark.parametrize("text,cat", [
    ("58M with crushing chest pain radiating to the left arm and sweating", "cardiac"),
    ("Chest pain spreading to the jaw for 2 hours", "cardiac"),
    ("患者胸痛2小时，向左臂放射，伴大汗", "cardiac"),
    ("Sudden weakness of the right arm and facial droop this morning", "stroke"),
    ("突发左侧肢体无力，口角歪斜，言语不清", "stroke"),
    ("After a peanut, her throat swelling and wheeze started: anaphylaxis?", "anaphylaxis"),
    ("吃虾后喉头水肿", "anaphylaxis"),
    ("He says he wants to kill himself", "suicide"),
    ("病人说不想活了，有自杀念头", "suicide"),
    ("Postpartum heavy bleeding soaking pads every 10 minutes", "bleeding"),
    ("呕血约500ml", "bleeding"),
    ("Child is unresponsive after a fall", "consciousness"),
])
def test_red_flags_found(text, cat):
    assert cat in red_flags(text)


@pytest.mark.parametrize("text", [
    "Denies chest pain radiating to the arm; mild cough for a week.",
    "No facial droop, no slurred speech on exam.",
    "患者无胸痛放射，偶有咳嗽",
    "否认自杀念头，睡眠差",
    "What is the first-line treatment for insomnia in older adults?",
    "A 30-year-old woman leaks urine when coughing. What does cystometry show?",
    "Appendicitis with abscess: drain first or operate?",
    "Discuss the epidemiology of suicide prevention programmes",  # mentions the word: flagged on purpose
][:-1])
def test_red_flags_not_found(text):
    assert red_flags(text) == []


@pytest.mark.parametrize("text,expected", [
    ("Call me at 13812345678 tomorrow", "Call me at [PHONE] tomorrow"),
    ("电话：+86 139 1234 5678", "电话：[PHONE]"),
    ("Phone (415) 555-2671 please", "Phone [PHONE] please"),
    ("身份证 11010519491231002X 的患者", "身份证 [ID] 的患者"),
    ("email jane.doe@hospital.org now", "email [EMAIL] now"),
    ("MRN: 00123456, admitted", "MRN: [MRN], admitted"),
    ("住院号：2023-00981", "住院号：[MRN]"),
    ("DOB 1980-03-14, male", "DOB [DOB], male"),
    ("出生日期：1975年6月1日", "出生日期：[DOB]"),
    ("born on March 3, 1990 in Leeds", "born on [DOB] in Leeds"),
])
def test_redaction(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text", [
    "BP 150/95 mmHg, HR 104/min, SpO2 95%, troponin 2.3 ng/mL",
    "Metformin 500 mg twice daily since 2019-04-01",
    "Symptoms began on 2024-01-15; CRP 120 mg/L; WBC 15.2 x10^9/L",
    "血压150/95 mmHg，心率104次/分，2024年1月15日起病",
    "ECG at 14:30 showed ST elevation in II, III, aVF",
])
def test_clinical_numbers_survive(text):
    assert redact(text) == text
