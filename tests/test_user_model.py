"""A model file the user downloaded, added the way the app adds it (Settings → Models → Add a model file): the
bundled 0.5B Qwen GGUF, joined to a plain .gguf in a "Downloads" folder, is checked, built to ONNX INT8 in a
child process with progress, becomes the model that answers without a restart, and answers a question.

About 2 minutes and 6 GB of memory on 2 cores; needs the 0.5B GGUF packages (requirements-model-small.txt,
installed by .ci/run) and skips without them.
"""
from __future__ import annotations

import time

import pytest

from medassist.model import bases


@pytest.fixture
def downloaded_gguf(tmp_path):
    base = bases.BUNDLED["qwen2.5-coder-0.5b"]
    try:
        parts = bases.part_paths(base)
    except bases.ModelPackageError as e:
        pytest.skip(str(e))
    return bases.join_parts(parts, tmp_path / "Downloads" / "Qwen2.5-Coder-0.5B-Instruct-Q4_K_M.gguf",
                            size=base.size, sha256=base.sha256)


def test_a_downloaded_gguf_is_built_and_answers(downloaded_gguf, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDASSIST_DATA", str(tmp_path / "data"))
    from medassist.app.config import AppConfig
    from medassist.app.jobs import Jobs
    from medassist.app.service import ModelService
    from medassist.app.tabs import models
    from medassist.model.build import plan, BuildConfig
    from tests.fake import ScriptedEngine

    need = plan(BuildConfig(base=str(downloaded_gguf)))
    assert need["architecture"] == "qwen2" and 0.4e9 < need["params"] < 0.8e9 and need["fits"]
    service = ModelService(AppConfig(language="en", threads=2), engine=ScriptedEngine("x</think>y"))
    jobs = Jobs(service)
    assert jobs.build_file(str(downloaded_gguf))
    stages = set()
    while jobs.state.running:
        stages.add(jobs.state.stage)
        time.sleep(0.5)
    assert not jobs.state.error, jobs.state.error
    assert {"convert", "onnx"} <= stages  # progress came through from the child process
    assert service.wait(120) and service.engine.info.name == "qwen2.5-coder-0.5b-instruct-q4_k_m"
    assert "This computer · qwen2.5-coder-0.5b-instruct-q4_k_m" in [label for label, _ in models.choices("en")]
    r = service.engine.generate([{"role": "user", "content": "Name one symptom of pneumonia."}],
                                thinking_budget=16, max_new_tokens=16, temperature=0)
    assert r.generated_tokens > 0 and (r.answer + r.thinking).strip()
