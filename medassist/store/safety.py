"""Safety checks on user text: red-flag symptoms (emergency banner) and redaction of patient identifiers.

Redaction runs before anything is stored or logged (history, audit log,
exports). Red flags are found in Chinese and English, skipping negated
mentions ("denies chest pain", "无胸痛").

    python -m medassist.store.safety "Patient 13812345678 has crushing chest pain radiating to the left arm"
"""
from __future__ import annotations

import re
import sys

# --- red flags ----------------------------------------------------------------------------

RED_FLAGS: dict[str, list[str]] = {
    "cardiac": [
        r"chest (pain|pressure|tightness)[^.。;]{0,40}(radiat|spread|arm|jaw|sweat|diaphores)",
        r"(crushing|squeezing|pressure[- ]like) chest pain",
        r"胸痛[^。；]{0,15}(放射|左臂|下颌|大汗|出汗)", r"压榨(样|性)胸痛",
    ],
    "stroke": [
        r"(facial|face) droop", r"slurred speech", r"sudden[^.。]{0,30}(weakness|numbness|paralysis|vision loss|confusion)",
        r"(one|1)[- ]sided weakness", r"hemipar", r"口角(歪斜|㖞斜)", r"言语不清", r"口齿不清",
        r"(突然|突发)[^。]{0,10}(偏瘫|一侧肢体|肢体无力|麻木|失语)",
    ],
    "anaphylaxis": [
        r"anaphyla", r"(throat|tongue|lips?) (swelling|swollen|closing)", r"swelling of the (throat|tongue|lips)",
        r"过敏性休克", r"喉头水肿", r"(喉咙|嗓子)[^。]{0,6}(肿|发紧)",
    ],
    "suicide": [
        r"suicid", r"kill (myself|himself|herself|themselves)", r"end (my|his|her) life", r"want(s)? to die",
        r"self[- ]harm", r"自杀", r"轻生", r"想死", r"不想活", r"自残",
    ],
    "bleeding": [
        r"(severe|heavy|massive|uncontrolled|profuse) (bleeding|haemorrhage|hemorrhage|blood loss)",
        r"(vomiting|coughing up) (blood|large amounts of blood)", r"haematemesis|hematemesis",
        r"大出血", r"大量出血", r"呕血", r"咯血不止", r"出血不止",
    ],
    "breathing": [
        r"(can'?t|cannot|unable to) breathe", r"severe (shortness of breath|dyspnoea|dyspnea|respiratory distress)",
        r"呼吸困难[^。]{0,6}(严重|加重|无法)", r"喘不上气", r"窒息",
    ],
    "consciousness": [
        r"unconscious", r"unresponsive", r"(won'?t|does not|doesn'?t) wake up", r"seizure (lasting|for) (more than )?\d+ ?min",
        r"昏迷", r"意识不清", r"意识丧失", r"抽搐不止",
    ],
    "sepsis": [r"(fever|febrile)[^.。]{0,40}(confus|hypotens|mottled|rigors)", r"感染性休克"],
}
_NEGATION = re.compile(
    r"(\b(no|denies|denied|without|not|negative for|absence of|ruled out)\b[^.。;,，]{0,25}$)|((无|没有|否认|不伴|未见|排除)[^。；，,]{0,6}$)",
    re.IGNORECASE)
_FLAG_RE = {cat: [re.compile(p, re.IGNORECASE) for p in pats] for cat, pats in RED_FLAGS.items()}


def red_flags(text: str) -> list[str]:
    """Categories of red-flag symptoms mentioned (and not negated) in text."""
    found = []
    for cat, pats in _FLAG_RE.items():
        for pat in pats:
            if any(not _NEGATION.search(text[max(0, m.start() - 40):m.start()]) for m in pat.finditer(text)):
                found.append(cat)
                break
    return found


# --- redaction: medassist/store/redact.py ------------------------------------------------------

from medassist.store.redact import redact  # noqa: E402,F401  (one import for every caller)


def main() -> None:
    t = " ".join(sys.argv[1:]) or sys.stdin.read()
    print("redacted:", redact(t))
    print("red flags:", red_flags(t) or "none")


if __name__ == "__main__":
    main()
