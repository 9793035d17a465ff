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
    ("DOB 1980-03-14, male", "DOB [DATE], male"),
    ("出生日期：1975年6月1日", "出生日期：[DATE]"),
    ("born on March 3, 1990 in Leeds", "born on [DATE] in Leeds"),
    # The misses (#20): each was left in the text before.
    ("Mr. John Smith, D.O.B. 14/03/1957", "Mr. [NAME], D.O.B. [DATE]"),
    ("MR#123456 reviewed", "MR#[MRN] reviewed"),
    ("call 555.123.4567.", "call [PHONE]."),
    ("家属电话010-62345678", "家属电话[PHONE]"),
    ("旧身份证110105800315123", "旧身份证[ID]"),
    ("病历号 A-2024-0015", "病历号 [MRN]"),
    ("患者生于1980年3月15日", "患者生于[DATE]"),
    ("患者张伟，男，58岁", "患者[NAME]，男，58岁"),
    ("SSN 123-45-6789", "SSN [SSN]"),
    ("医保卡号1101234567890", "医保卡号[INSURANCE]"),
    ("微信号 liuyang_1988", "微信号 [WECHAT]"),
    ("住址北京市朝阳区建国路88号", "住址[ADDRESS]"),
    ("lives at 42 Elm Street, Springfield.", "lives at [ADDRESS]."),
    ("admitted on 12 March 2024", "admitted on [DATE]"),
])
def test_redaction(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text", [
    "BP 150/95 mmHg, HR 104/min, SpO2 95%, troponin 2.3 ng/mL",
    "Metformin 500 mg twice daily since 2019",
    "Symptoms began in January 2024; CRP 120 mg/L; WBC 15.2 x10^9/L",
    "血压150/95 mmHg，心率104次/分，2024年1月起病",
    "ECG at 14:30 showed ST elevation in II, III, aVF",
    "Sample sizes 120 340 1200",  # the false positives: three sample sizes, not a phone
    "Recruited 2019-2020-2021",
    "Mean age 5.9 years (1.2-13 years); ACCI (8.3/19); EC 3.1.1.11; +138% at 45 min",
    "Patients were seen at Henry Ford Hospital and scored with the Patient Health Questionnaire.",
    "患者高血压病史10年，患者于今日复诊。",
    "See chart 3 and record 12 of 40.",
])
def test_clinical_numbers_survive(text):
    assert redact(text) == text


def test_a_full_date_goes_but_the_clinical_numbers_stay():
    assert redact("Metformin 500 mg since 2019-04-01; CRP 120 mg/L") == "Metformin 500 mg since [DATE]; CRP 120 mg/L"
    assert redact("血压150/95 mmHg，2024年1月15日起病") == "血压150/95 mmHg，[DATE]起病"


def test_the_labelled_sets_all_identifiers_out_and_no_clinical_number_touched():
    """The hand-labelled set behind benchmarks/redaction.py (its figures are in the README): a regression guard."""
    from benchmarks.redaction import load, survives

    for name in ("identifiers_en.txt", "identifiers_zh.txt"):
        for text, ids in load(name):
            assert not [i for _, i in ids if survives(i, redact(text))], redact(text)
    for text, _ in load("numbers.txt"):
        assert redact(text) == text


@pytest.mark.parametrize("bad", ["a" * 300_000, "1" * 300_000, "a.b" * 100_000, "a@" * 150_000, "Mr. " * 75_000,
                                 "患者" * 150_000, "1-" * 150_000, "+1 " * 100_000])
def test_redaction_is_linear_on_long_hostile_text(bad):
    # A quadratic pattern takes minutes on 300,000 characters; linear ones take well under a second (the limit
    # is loose so a busy CI machine cannot fail it; benchmarks/redaction.py times the real figure).
    import time

    t0 = time.perf_counter()
    redact(bad)
    assert time.perf_counter() - t0 < 10
