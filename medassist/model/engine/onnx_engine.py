"""ONNX backend (default): onnxruntime-genai over a model folder written by
medassist/model/build.py (genai_config.json, model.onnx, tokenizer, chat template).

transformers is not imported here: the chat template is rendered by
medassist/model/chat.py and tokenization is onnxruntime-genai's own, which keeps the
app's memory down.

    medassist-model ask "..."            # uses this backend
"""
from __future__ import annotations

import json
from pathlib import Path

from medassist.model import chat as P
from medassist.model.engine.base import EngineInfo, default_threads
from medassist.model.engine.local import LocalEngine


# Prompt-lookup drafts (onnxruntime-genai's n-gram speculation): the last 3 tokens are looked up earlier in the
# sequence and the 4 that followed them there are proposed; the model checks them in one pass and keeps the
# longest run it would have chosen itself. Summaries copy the paper's words, so most runs are kept.
NGRAM = {"ngram_size": 3, "max_draft_tokens": 4}
FEED_CHUNK = 256  # a build with logits for every position reads long prompts in pieces (256 x 0.6 MB of logits)


class OnnxSession:
    """A generator used to run the model: the engine samples (sampling.py), so one KV state serves requests
    with any settings. Its KV buffer is allocated whole, for `capacity` tokens. With `speculative` (a build
    that keeps every position's logits), greedy() lets the runtime choose greedy tokens itself, several per
    pass where its n-gram drafts are accepted."""

    def __init__(self, og, model, capacity: int, speculative: bool = False):
        params = og.GeneratorParams(model)
        params.set_search_options(max_length=capacity, do_sample=False, past_present_share_buffer=True)
        if speculative:
            params.set_speculative_options(**NGRAM)
        self.g, self.capacity, self.tokens = og.Generator(model, params), capacity, []
        self.chunk = FEED_CHUNK if speculative else 0
        self.unread = False  # the last token came from greedy(): in the sequence, not yet through the model

    def feed(self, ids: list[int]) -> None:
        ids = list(ids)
        if self.unread:  # read it together with the new tokens
            self.g.rewind_to(len(self.tokens) - 1)
            ids.insert(0, self.tokens.pop())
            self.unread = False
        step = self.chunk or len(ids)
        for i in range(0, len(ids), step):
            self.g.append_tokens(ids[i:i + step])
            self.tokens.extend(ids[i:i + step])

    def logits(self):
        return self.g.get_logits().reshape(-1)

    def rewind(self, n: int) -> None:
        if n < len(self.tokens):
            self.g.rewind_to(n)  # the logits stay those of the old sequence until the next feed
            del self.tokens[n:]
            self.unread = False  # only the last token can be unread

    def greedy(self) -> list[int]:
        """The next greedy token(s), chosen by the runtime (only sessions made with speculative=True)."""
        before = self.g.token_count()
        self.g.generate_next_token()
        new = [int(t) for t in self.g.get_sequence(0)[before:]]
        if not new:
            if not self.g.is_done():
                raise RuntimeError("the runtime chose no token")
            # An end-of-text token is not added to the runtime's sequence; keep it as the unread last token (a
            # follow-up's prompt repeats it, and feed() reads it then, which also lets the runtime go on).
            new = [int(self.g.get_next_tokens()[0])]
        self.tokens.extend(new)
        self.unread = True
        return new


class OnnxEngine(LocalEngine):
    def __init__(self, path: str | Path, *, threads: int | None = None, name: str | None = None,
                 session_options: dict | None = None):
        super().__init__()
        import onnxruntime_genai as og

        self.og, self.path = og, Path(path)
        if not (self.path / "genai_config.json").exists():
            raise FileNotFoundError(f"{self.path} is not an ONNX model folder (no genai_config.json). "
                                    "Build one with: python -m medassist.model build")
        config = og.Config(str(self.path))
        opts = dict(session_options or {})
        # Left unset, onnxruntime-genai ran at about one core's speed here (14 vs 24 tok/s on 2 cores).
        opts["intra_op_num_threads"] = threads or default_threads()
        config.overlay(json.dumps({"model": {"decoder": {"session_options": opts}}}))
        self.model = og.Model(config)
        self.tokenizer = og.Tokenizer(self.model)
        self.genai_config = json.loads((self.path / "genai_config.json").read_text())
        self.chat_template = P.load_chat_template(self.path)
        self.special = P.special_tokens(self.path)
        eos = self.genai_config["model"].get("eos_token_id")
        self.eos_ids = set(eos if isinstance(eos, list) else [eos]) | {int(i) for i in self.tokenizer.eos_token_ids}
        build = self.path / "build.json"
        meta = json.loads(build.read_text()) if build.exists() else {}
        self.speculative = self._can_speculate()
        self.info = EngineInfo(name or meta.get("name", self.path.parent.name), "onnx",
                               meta.get("precision", "?"), str(self.path), meta)

    @property
    def context_length(self) -> int:
        return int(self.genai_config["model"].get("context_length", 32768))

    def encode(self, text: str) -> list[int]:
        return [int(i) for i in self.tokenizer.encode(text)]

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids) if ids else ""

    def _can_speculate(self) -> bool:
        """Whether this build keeps every position's logits (needed to check drafts): the runtime says so when
        a generator with n-gram drafts is made (a pruned head, the default before #21, is refused)."""
        try:
            OnnxSession(self.og, self.model, 8, speculative=True)
            return True
        except RuntimeError:
            return False

    def new_session(self, capacity: int) -> OnnxSession:
        return OnnxSession(self.og, self.model, capacity, speculative=self.speculative)
