"""History: redacted on write, searchable, deletable, exported with reasoning."""
from app.history import History


def test_roundtrip_search_export_delete(tmp_path):
    h = History(tmp_path / "h.sqlite")
    cid = h.new_conversation("Patient 13812345678 with chest pain")
    h.add(cid, "user", "Patient 13812345678 with chest pain, email a@b.com")
    h.add(cid, "assistant", "Likely ACS.", thinking="Consider MI; MRN: 998877 noted", meta={"tokens_per_s": 30})
    other = h.new_conversation("Insomnia in the elderly")
    h.add(other, "user", "Insomnia in the elderly")

    raw = (tmp_path / "h.sqlite").read_bytes()
    assert b"13812345678" not in raw and b"a@b.com" not in raw and b"998877" not in raw
    assert h.title(cid) == "Patient [PHONE] with chest pain"
    assert [c["id"] for c in h.conversations("ACS")] == [cid]
    assert [c["id"] for c in h.conversations("insomnia")] == [other]
    assert len(h.conversations()) == 2

    md = h.to_markdown(cid)
    assert "## Question" in md and "Likely ACS." in md and "<summary>Reasoning</summary>" in md and "[MRN]" in md

    exported = h.export(cid)
    assert exported.read_text(encoding="utf-8") == md
    h.delete(cid)
    assert h.messages(cid) == [] and [c["id"] for c in h.conversations()] == [other]
    assert not exported.exists()
    h.export(other)
    h.audit.record("ask", text="Patient 13812345678 with chest pain", model="m", tokens=12)
    h.delete_all()
    assert h.conversations() == [] and not list(h.exports.iterdir()) and h.audit.entries() == []
    assert b"Insomnia" not in (tmp_path / "h.sqlite").read_bytes()


def test_audit_log_holds_no_patient_text(tmp_path):
    h = History(tmp_path / "h.sqlite")
    q = "Jane Doe, MRN: 123456, phone 13812345678, chest pain radiating to the arm"
    h.audit.record("ask", text=q, model="qwen · int8 · onnx", tokens=42, ttft_s=0.9, flags=["cardiac"],
                   note="free text is dropped")
    h.audit.record("ask", text=q, model="m")
    raw = h.audit.path.read_text()
    assert "Jane" not in raw and "123456" not in raw and "chest" not in raw and "free text" not in raw
    a, b = h.audit.entries()
    assert a["input_sha256"] == b["input_sha256"] and a["tokens"] == 42 and a["flags"] == ["cardiac"]
