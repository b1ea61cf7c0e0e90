"""`models prepare`: export the embedding model to ONNX once per machine (what `make install` runs)."""

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
    """Export the embedding model to ONNX if it is not exported yet (a one-time step of about 10-15 s that
    an index build or the first question would otherwise pay)."""
    from ..errors import ConfigError
    from ..retrieval.embeddings import OnnxEmbedder

    s = settings_of(ctx)
    if s.embedder != "model" or s.embedding_runtime != "onnx":
        click.echo(f"nothing to prepare: the embedder is {s.embedder!r}, runtime {s.embedding_runtime!r}")
        return
    onnx = OnnxEmbedder(s.embedding_model_path, s.model_cache_dir, max_tokens=s.embedding_max_tokens)
    if onnx.onnx_path.exists():
        click.echo(f"ready: {onnx.onnx_path}")
        return
    try:
        s.model_cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot create the model cache {s.model_cache_dir} ({e}): set ASSISTANT_MODEL_CACHE "
                          "to a writable directory") from e
    t0 = time.perf_counter()
    onnx.embed_query("ready")  # exports, loads and runs the graph once
    click.echo(f"exported {onnx.onnx_path} in {time.perf_counter() - t0:.1f} s")
