"""Long work the Models section starts in the background, one at a time: the medical check of the model that
answers, and building a model from the user's own file. The page polls `Jobs.state` for progress.

    jobs = Jobs(service)
    jobs.check()                      # False when another job is running
    jobs.build_file("~/Downloads/model.gguf")
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class JobState:
    kind: str = ""  # "" (none yet) | check | build
    name: str = ""  # the model being checked or built
    running: bool = False
    done: int = 0
    total: int = 0
    stage: str = ""
    fraction: float = 0.0
    message: str = ""
    error: str = ""
    result: dict = field(default_factory=dict)


class Jobs:
    def __init__(self, service):
        self.service = service
        self.state = JobState()
        self._lock = threading.Lock()
        self.cancel = threading.Event()

    def _start(self, kind: str, name: str, target) -> bool:
        with self._lock:
            if self.state.running:
                return False
            self.state = JobState(kind=kind, name=name, running=True)
            self.cancel = threading.Event()
        threading.Thread(target=self._run, args=(target,), name=f"job-{kind}", daemon=True).start()
        return True

    def _run(self, target) -> None:
        try:
            target()
        except Exception as e:  # shown on the page as one sentence
            self.state.error = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        finally:
            self.state.running = False

    def check(self) -> bool:
        """Score the model that answers now on the shipped exam sample; the result is stored by its label."""
        from medassist.evals.check import Results, check, label

        engine = self.service.engine
        if engine is None:
            return False

        def run():
            def progress(k, n):
                self.state.done, self.state.total = k, n
            r = check(engine, progress=progress, cancel=self.cancel)
            Results().save(r)
            self.state.result = r

        return self._start("check", label(engine), run)

    def build_file(self, path: str) -> bool:
        """Build (a .gguf) or register (an ONNX GenAI folder) the user's model, then make it the one that answers.
        Refuses at once, with the reason, a file that is missing or a model too large for this computer."""
        from medassist.model.build import BuildConfig, is_gguf, is_onnx_folder, plan
        from medassist.model.registry import model_name
        from medassist.app.service import run_build

        p = str(Path(path.strip().strip('"').strip("'")).expanduser())
        if not (is_gguf(p) or is_onnx_folder(p)):
            raise ValueError(f"{p} is neither a .gguf file nor a folder with an ONNX GenAI model (genai_config.json)")
        name = model_name(p)

        def run():
            self.state.message = "checking the file"
            need = plan(BuildConfig(base=p))
            if not need["fits"]:
                raise MemoryError(need["why"])

            def progress(stage, frac, msg):
                self.state.stage, self.state.fraction, self.state.message = stage, frac, msg
            run_build(["--base", p], progress)
            self.service.use(f"local:{name}")
            self.state.result = {"name": name}

        return self._start("build", name, run)
