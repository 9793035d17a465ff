"""History: redacted on write, searchable, deletable, exported with reasoning."""
import os
import tempfile
import time

import pytest

from medassist.store.exports import Downloads, safe_name
from medassist.store.history import History


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
    # Downloads are private temp files Gradio may serve, never files in the data folder.
    assert tempfile.gettempdir() in str(exported) and tmp_path not in exported.parents
    assert exported.stat().st_mode & 0o777 == 0o600 and exported.parent.parent.stat().st_mode & 0o777 == 0o700
    h.delete(cid)
    assert h.messages(cid) == [] and [c["id"] for c in h.conversations()] == [other]
    second = h.export(other)
    h.legacy_exports.mkdir()
    (h.legacy_exports / "summary-old.md").write_text("an export written by an older version")
    h.audit.record("ask", text="Patient 13812345678 with chest pain", model="m", tokens=12)
    h.delete_all()
    assert h.conversations() == [] and h.audit.entries() == []
    assert not exported.exists() and not second.exists() and not h.legacy_exports.exists()
    assert b"Insomnia" not in (tmp_path / "h.sqlite").read_bytes()


def test_downloads_private_unique_and_pruned(tmp_path):
    d = Downloads(tmp_path / "dl", keep_s=60)
    (tmp_path / "dl").mkdir()
    a, b = d.write("../../etc/outline.md", "one"), d.write("outline.md", b"two")
    assert a.name == b.name == "outline.md" and a != b  # two users exporting at once never collide
    assert a.read_text() == "one" and b.read_bytes() == b"two" and a.parent.parent == tmp_path / "dl"
    assert safe_name("summary-Nurse led: a trial?.json") == "summary-Nurse_led_a_trial.json"
    old = a.parent
    os.utime(old, (time.time() - 120, time.time() - 120))
    c = d.write("x.md", "three")  # each write prunes folders older than keep_s
    assert not old.exists() and b.exists() and c.exists()
    d.clear()
    assert list((tmp_path / "dl").iterdir()) == []


def test_audit_log_holds_no_patient_text(tmp_path):
    h = History(tmp_path / "h.sqlite")
    q = "Jane Doe, MRN: 123456, phone 13812345678, chest pain radiating to the arm"
    h.audit.record("ask", text=q, model="qwen · int8 · onnx", tokens=42, ttft_s=0.9, flags=["cardiac"],
                   note="free text is dropped")
    h.audit.record("ask", text=q, model="m")
    raw = h.audit.path.read_text()
    assert "Jane" not in raw and "123456" not in raw and "chest" not in raw and "free text" not in raw
    a, b = h.audit.entries()
    assert a["input_sha256"] == b["input_sha256"] and a["tokens"] == 42 and a["red_flags"] == 1 and "flags" not in a


def test_each_account_sees_reads_and_deletes_only_its_own(tmp_path):
    who = {"name": "alice"}
    h = History(tmp_path / "h.sqlite", user=lambda: who["name"])
    a = h.save_turn(None, "Alice's question", "Alice's question", "answer A")
    who["name"] = "bob"
    b = h.save_turn(None, "Bob's question", "Bob's question", "answer B")
    assert [c["title"] for c in h.conversations()] == ["Bob's question"]
    assert h.conversations("Alice") == [] and h.messages(a) == [] and not h.exists(a) and h.title(a) == ""
    h.delete(a)  # not Bob's to delete
    with pytest.raises(KeyError):
        h.export(a)
    with pytest.raises(KeyError):
        h.add(a, "user", "appended by Bob")
    h.audit.record("ask", text="x")
    h.delete_all()
    assert h.conversations() == [] and not h.exists(b)
    who["name"] = "alice"
    assert [c["id"] for c in h.conversations()] == [a] and len(h.messages(a)) == 2
    assert "_Account: alice_" in h.export(a).read_text(encoding="utf-8")
    assert "bob" not in [e.get("user") for e in h.audit.entries()]  # his audit lines went with his data


def test_a_history_from_before_accounts_is_kept_as_the_single_users(tmp_path):
    import sqlite3

    with sqlite3.connect(tmp_path / "h.sqlite") as db:
        db.executescript("""CREATE TABLE conversations (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL,
            created REAL NOT NULL, updated REAL NOT NULL);
            INSERT INTO conversations(title, created, updated) VALUES ('old one', 1, 1);""")
    h = History(tmp_path / "h.sqlite")
    assert [c["title"] for c in h.conversations()] == ["old one"]


def test_accounts_file_holds_scrypt_hashes_private_to_its_owner(tmp_path, monkeypatch):
    import os
    import stat

    from medassist.store.users import Users, main

    monkeypatch.setenv("MEDASSIST_DATA", str(tmp_path))
    monkeypatch.setenv("MEDASSIST_NEW_PASSWORD", "correct horse battery")
    main(["add", "alice"])
    main(["add", "admin", "--admin"])
    users = Users(tmp_path / "users.json")
    raw = (tmp_path / "users.json").read_text()
    assert "correct horse" not in raw and stat.S_IMODE(os.stat(tmp_path / "users.json").st_mode) == 0o600
    assert users.verify("alice", "correct horse battery") and not users.verify("alice", "wrong")
    assert not users.verify("nobody", "correct horse battery") and users.is_admin("admin")
    with pytest.raises(ValueError):
        users.add("alice", "short")
    with pytest.raises(ValueError):
        users.add("../etc", "long enough password")
    h = History(tmp_path / "history.sqlite", user=lambda: "alice")
    h.save_turn(None, "t", "q", "a")
    main(["remove", "alice", "--delete-data"])
    assert users.names() == ["admin"] and h.conversations() == []
    (tmp_path / "users.json").write_text("{not json")
    assert not users.verify("admin", "correct horse battery")  # a damaged file opens no doors
