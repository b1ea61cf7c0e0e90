"""`models prepare`: what the embedding model needs once per machine (what `make install` runs)."""

from __future__ import annotations

import time

import click

from . import cli, settings_of


@cli.group()
def models():
    """The embedding model's runtime files (kept in ASSISTANT_MODEL_CACHE, shared by every data dir)."""


@models.command("prepare")
@click.pass_context
def models_prepare(ctx):
    """Export the embedding model to ONNX (questions) and OpenVINO (index builds), and time bulk embedding
    in bfloat16 against float32 (when the CPU lists bfloat16), once per machine: one-time steps of about
    10-30 s that the first index build would otherwise pay."""
    from ..corpus.chunking import chunk_all
    from ..corpus.loader import load_corpus
    from ..errors import ConfigError
    from ..retrieval.embeddings import OnnxEmbedder, make_embedder

    s = settings_of(ctx)
    if s.embedder != "model" or s.embedding_runtime != "onnx":
        click.echo(f"nothing to prepare: the embedder is {s.embedder!r}, runtime {s.embedding_runtime!r}")
        return
    try:
        s.model_cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot create the model cache {s.model_cache_dir} ({e}): set ASSISTANT_MODEL_CACHE "
                          "to a writable directory") from e
    embedder = make_embedder(s)
    assert isinstance(embedder, OnnxEmbedder)
    t0 = time.perf_counter()
    if embedder.onnx_path.exists():
        click.echo(f"ready: {embedder.onnx_path}")
    else:
        embedder.embed_query("ready")  # exports, loads and runs the graph once
        click.echo(f"exported {embedder.onnx_path} in {time.perf_counter() - t0:.1f} s")
    for bulk in {id(b): b for b in (embedder.bulk, embedder.fallback) if hasattr(b, "ir_path")}.values():
        if not (bulk.ir_path.exists() and bulk.ir_path.with_suffix(".bin").exists()):
            t0 = time.perf_counter()
            bulk.warm_up()  # converts once for every precision: the same file serves both
            click.echo(f"converted {bulk.ir_path} (OpenVINO, bulk embedding) in {time.perf_counter() - t0:.1f} s")
    if embedder.measure_bulk:
        t0 = time.perf_counter()
        texts = sorted((c.search_text for c in chunk_all(load_corpus(s.corpus_dir), [])), key=len)
        choice = embedder.prepare_bulk(texts)
        seconds = choice.get("measured_seconds", {})
        how = (f"kept from {embedder.choice_path}" if choice.get("remembered") else
               f"timed in {time.perf_counter() - t0:.1f} s (bf16 {seconds.get('bf16')} s, fp32 {seconds.get('fp32')} s "
               f"on {choice.get('sample')} texts)")
        click.echo(f"bulk embedding precision: {choice['precision']}, {how}")
