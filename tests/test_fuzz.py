"""Fuzzing the PDF path with hypothesis: mutated real PDFs give a Paper or a clear PdfError, never a crash."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medassist.papers.pdfread import Paper, PdfError, read_pdf, read_pdf_isolated
from tests.pdfs import two_column_paper


@pytest.fixture(scope="module")
def seed_pdf(tmp_path_factory) -> bytes:
    return two_column_paper(tmp_path_factory.mktemp("fuzz") / "seed.pdf").read_bytes()


def mutate(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    """Each edit: at a relative position, delete some bytes and insert others (flips, cuts, junk, copies)."""
    out = bytearray(data)
    for pos, delete, insert in edits:
        i = pos % (len(out) + 1)
        out[i:i + delete] = insert
    return bytes(out)


EDITS = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 400), st.binary(max_size=64)), min_size=1, max_size=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=EDITS, cut=st.none() | st.integers(0, 10**6))
def test_mutated_pdfs_in_process(seed_pdf, edits, cut):
    data = mutate(seed_pdf, edits)
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    try:
        paper = read_pdf(data)
    except PdfError as e:
        assert str(e) and "Traceback" not in str(e)
        return
    assert isinstance(paper, Paper) and paper.pages >= 1
    for s in paper.sections:  # whatever survived is well-formed
        assert all(p.page >= 1 and isinstance(p.text, str) for p in s.paragraphs)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=EDITS)
def test_mutated_pdfs_in_a_child_process(seed_pdf, edits, tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "m.pdf"
    path.write_bytes(mutate(seed_pdf, edits))
    try:
        paper = read_pdf_isolated(path, timeout=30)
    except PdfError as e:
        assert str(e)
        return
    assert paper.pages >= 1


def test_isolated_reader_matches_and_times_out(seed_pdf, tmp_path):
    path = tmp_path / "p.pdf"
    path.write_bytes(seed_pdf)
    assert read_pdf_isolated(path) == read_pdf(path)
    with pytest.raises(PdfError, match="took longer than"):
        read_pdf_isolated(path, timeout=0.001)
