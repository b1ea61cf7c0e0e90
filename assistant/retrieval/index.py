"""Build and open the index: Chroma vectors + BM25 + glossary + the chunk manifest.

Layout in the data dir::

    index/CURRENT              name of the live generation (replaced atomically)
    index/gen-000007/          chunks.json, lexical.json, glossary.json, build.json
    chroma/                    the Chroma collection (content-hash ids; shared by generations)

A build embeds only chunks whose id is not yet in Chroma, writes a new generation, and switches
CURRENT last: if anything fails before that, the previous generation keeps serving. Running servers
follow CURRENT (``assistant.live``); a retired generation's directory is removed by a later build
once it has been retired for ``RETIRED_GRACE_SECONDS``. Vectors of
chunks no longer in the live generation are deleted after the switch; readers ignore ids that are
not in their own generation, so a half-finished cleanup is harmless.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..corpus.chunking import chunk_all
from ..corpus.eurlex import load_official
from ..corpus.loader import load_corpus
from ..errors import AssistantError, IndexBuildError, IndexMissingError
from ..types import Chunk
from .glossary import Glossary, entries_from_docs, generic_entries
from .keys import Key, make_keys
from .lexical import BM25Index
from .rerank import Ranker

BUILD_COMMAND = "gdpr-assistant index"
RETIRED_GRACE_SECONDS = 600  # a retired generation's files stay this long (servers may still be loading it)
MODELS_VERSION = 2  # bump when the ranker's or the scope classifier's training changes


@dataclass(frozen=True)
class BuildReport:
    """What one `index` run did."""

    generation: str
    chunks: int
    embedded: int
    reused: int
    removed: int
    documents: int
    official_languages: tuple[str, ...]
    seconds: float
    models_from: str = ""  # the generation whose ranker and scope classifier were reused, if any

    def summary(self) -> str:
        """One line for the CLI."""
        off = ", ".join(self.official_languages) or "none (bundled corpus only)"
        models = f"models reused from {self.models_from}" if self.models_from else "models trained"
        return (f"index {self.generation}: {self.chunks} chunks from {self.documents} documents "
                f"(official text: {off}); embedded {self.embedded}, reused {self.reused}, "
                f"removed {self.removed}; {models}; in {self.seconds:.1f} s")


@dataclass
class IndexData:
    """The live generation loaded in memory."""

    generation: str
    chunks: dict[str, Chunk]
    lexical: dict[str, BM25Index]
    titles: dict[str, BM25Index]
    glossary: Glossary
    info: dict
    keys: list[Key] = field(default_factory=list)
    key_lexical: dict[str, BM25Index] = field(default_factory=dict)  # BM25 over keys; doc ids = key positions
    ranker: Ranker | None = None
    path: Path | None = None  # the generation's directory (models of the answer layer live there too)
    vectors: tuple | None = None  # (chunk vectors, key vectors) given in memory during a build


def _write_json(path: Path, data) -> None:
    # One dumps and one write: json.dump streams thousands of small writes (about 4 times slower here).
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def current_generation(index_dir: Path) -> str | None:
    """Name of the live generation, or None when no index was built."""
    p = index_dir / "CURRENT"
    if not p.exists():
        return None
    name = p.read_text().strip()
    return name if (index_dir / name / "chunks.json").exists() else None


class TextVectors:
    """Embeddings of short texts (keys, training queries, examples), kept in the ``texts`` collection.

    Texts are stored under their content id, so a rebuild embeds only texts it has never seen.
    """

    def __init__(self, embedder, store):
        self.embedder = embedder
        self.store = store.sibling("texts")
        self.stored = self.store.ids()
        self.used: set[str] = set()
        self.embedded = 0

    def __call__(self, texts: list[str]) -> np.ndarray:
        """One normalised vector per text, in order."""
        from .keys import text_id

        ids = [text_id(t) for t in texts]
        self.used.update(ids)
        missing = sorted({i: t for i, t in zip(ids, texts, strict=True) if i not in self.stored}.items(),
                         key=lambda it: len(it[1]))
        for i in range(0, len(missing), 256):
            part = missing[i:i + 256]
            vecs = self.embedder.embed_documents([t for _, t in part])
            self.store.add([k for k, _ in part], vecs, [{"kind": "text"} for _ in part])
            self.stored.update(k for k, _ in part)
            self.embedded += len(part)
        if not ids:
            return np.zeros((0, 0), dtype=np.float32)
        return self.store.vectors(ids)

    def drop_unused(self) -> int:
        """Delete stored texts the live generation no longer uses; returns how many."""
        stale = [i for i in self.stored if i not in self.used]
        if stale:
            self.store.delete(stale)
        return len(stale)


RETRAIN_SHARE = 0.05  # more changed documents than this share (and than 2), or new training files, retrain


def _fingerprints(docs, chunks) -> dict:
    """What the trained models depend on: each document's content, the official text, the training files."""
    from ..answer.scope import EXAMPLES
    from .rerank import FEATURES
    from .training import LABELLED, PARAPHRASES

    def digest(*parts) -> str:
        h = hashlib.sha256()
        for p in parts:
            h.update(repr(p).encode("utf-8"))
        return h.hexdigest()[:16]

    files = [f.read_bytes() if f.exists() else b"" for f in (EXAMPLES, LABELLED, PARAPHRASES)]
    return {"documents": {d.id: digest(d.title, d.body, d.articles, sorted(d.extra.items(), key=str)) for d in docs},
            "official": digest(sorted(c.id for c in chunks if c.kind in ("gdpr_article", "gdpr_recital"))),
            "training": digest(files, FEATURES, MODELS_VERSION)}


def _reusable_models(index_dir: Path, previous: str | None, prints: dict, embedder_name: str) -> Path | None:
    """The previous generation's directory when its ranker and scope model still fit this build.

    They do when the training files and the official text are the same and only a few documents
    changed: the models' features are similarities and ranks, not the documents themselves, so a
    corrected FAQ answer does not need an index build to retrain them (and takes seconds, not a minute).
    """
    if previous is None:
        return None
    d = index_dir / previous
    try:
        old = json.loads((d / "fingerprints.json").read_text(encoding="utf-8"))
        built = json.loads((d / "build.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if built.get("embedder") != embedder_name or old.get("training") != prints["training"] \
            or old.get("official") != prints["official"] or not (d / "ranker.json").exists():
        return None
    before, now = old.get("documents", {}), prints["documents"]
    changed = {k for k in before.keys() | now.keys() if before.get(k) != now.get(k)}
    return d if len(changed) <= max(2, RETRAIN_SHARE * len(now)) else None


def build_index(settings, embedder, store, progress: bool = False, retrain: bool = False) -> BuildReport:
    """Build (incrementally) and switch to a new index generation; atomic for readers.

    Steps: chunk the corpus and the imported official text, embed the chunks not yet in the vector
    store, write the lexical indexes, glossary and question keys, train the ranker and the scope
    classifier on what the corpus provides, then switch ``CURRENT`` to the new generation.
    """
    t0 = time.perf_counter()
    docs = load_corpus(settings.corpus_dir)
    official = load_official(settings.official_dir)
    chunks = chunk_all(docs, official)
    if not chunks:
        raise IndexBuildError(
            f"nothing to index: {settings.corpus_dir} has no documents and no official text was imported "
            "(run `gdpr-assistant corpus import-eurlex FILE`)")
    index_dir = settings.index_dir
    index_dir.mkdir(parents=True, exist_ok=True)
    stored = store.ids()
    # Sorted by length so each batch pads little: about twice as fast on CPU as file order.
    new = sorted((c for c in chunks if c.id not in stored), key=lambda c: len(c.search_text))
    timings = {}
    try:
        batch = 256
        bar = None
        if progress and new:
            from tqdm import tqdm

            bar = tqdm(total=len(new), desc="embedding", unit="chunk")
        for i in range(0, len(new), batch):
            part = new[i:i + batch]
            vectors = embedder.embed_documents([c.search_text for c in part])
            store.add([c.id for c in part], vectors, [c.metadata() for c in part])
            if bar:
                bar.update(len(part))
        if bar:
            bar.close()
        timings["embed_chunks"] = time.perf_counter() - t0
        tmp = Path(tempfile.mkdtemp(dir=index_dir, prefix=".building-"))
        _write_json(tmp / "chunks.json", [asdict(c) for c in chunks])
        known = _previous_term_counts(index_dir)
        lexical = {lang: BM25Index.build(lang, [(c.id, c.search_text) for c in chunks if c.lang == lang], known)
                   for lang in ("fr", "en")}
        _write_json(tmp / "lexical.json", {lang: idx.to_json() for lang, idx in lexical.items()})
        titles = {lang: BM25Index.build(lang, [(c.id, title_text(c)) for c in chunks
                                               if c.lang == lang and c.kind in ("faq", "guide", "cnil_decision")])
                  for lang in ("fr", "en")}
        _write_json(tmp / "titles.json", {lang: idx.to_json() for lang, idx in titles.items()})
        entries = entries_from_docs(docs)
        generic = generic_entries(entries, lambda lang, stems: lexical[lang].share_containing(stems))
        glossary = Glossary(entries, generic=generic)
        _write_json(tmp / "glossary.json", glossary.to_json())
        keys = make_keys(chunks, docs)
        _write_json(tmp / "keys.json", [k.to_json() for k in keys])
        key_lexical = keys_index(keys)
        _write_json(tmp / "keys_lexical.json", {lang: idx.to_json() for lang, idx in key_lexical.items()})
        texts = TextVectors(embedder, store)
        t1 = time.perf_counter()
        key_vectors = texts([k.text for k in keys])
        chunk_vectors = store.vectors([c.id for c in chunks])
        timings["embed_keys"] = time.perf_counter() - t1
        data = IndexData(generation="(building)", chunks={c.id: c for c in chunks}, lexical=lexical, titles=titles,
                         glossary=glossary, info={"embedder": embedder.name}, keys=keys, key_lexical=key_lexical,
                         path=tmp,
                         vectors=(chunk_vectors, key_vectors))
        from ..answer.scope import MODEL_FILE, fit_scope_classifier, scope_training_rows
        from .parallel import Background
        from .training import ranker_blocks, train_ranker_on

        previous = current_generation(index_dir)
        prints = _fingerprints(docs, chunks)
        _write_json(tmp / "fingerprints.json", prints)
        reuse = None if retrain else _reusable_models(index_dir, previous, prints, embedder.name)
        if reuse is not None:
            old = json.loads((reuse / "build.json").read_text(encoding="utf-8"))
            shutil.copy2(reuse / "ranker.json", tmp / "ranker.json")
            if (reuse / MODEL_FILE).exists():
                shutil.copy2(reuse / MODEL_FILE, tmp / MODEL_FILE)
            ranker_info = {**(old.get("ranker") or {}), "reused_from": reuse.name} if old.get("ranker") else None
            scope_info = {**old.get("scope", {}), "reused_from": reuse.name}
        else:
            # Embedding first (torch uses every core), then the ranker's candidates in worker
            # processes, then the two fits side by side: the scope classifier in a forked child.
            t2 = time.perf_counter()
            rows = scope_training_rows(docs)
            scope_vectors = texts([retriever_text(r[0]) for r in rows])
            timings["embed_scope"] = time.perf_counter() - t2
            t2 = time.perf_counter()
            blocks, ranker_info = ranker_blocks(settings, embedder, store, data, docs, texts)
            timings["ranker_candidates"] = time.perf_counter() - t2
            t3 = time.perf_counter()
            scope_job = Background(lambda: fit_scope_classifier(rows, scope_vectors, tmp))
            try:
                ranker = train_ranker_on(blocks, ranker_info)
            finally:
                scope_info = scope_job.result()  # always collected: no child left behind on an error
            _write_json(tmp / "ranker.json", ranker.to_json() if ranker else None)
            ranker_info = ranker.info if ranker else None
            timings["fit_models"] = time.perf_counter() - t3
        number = int(previous.split("-")[1]) + 1 if previous else 1
        generation = f"gen-{number:06d}"
        info = {"generation": generation, "embedder": embedder.name, "chunks": len(chunks),
                "documents": len(docs), "official": [t.lang for t in official], "keys": len(keys),
                "ranker": ranker_info, "scope": scope_info, "texts_embedded": texts.embedded,
                "bulk_embedding": getattr(embedder, "bulk_choice", None) or None,
                "seconds": {k: round(v, 2) for k, v in timings.items()},
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        _write_json(tmp / "build.json", info)
        target = index_dir / generation
        if target.exists():
            shutil.rmtree(target)
        os.rename(tmp, target)
        pointer = index_dir / ".CURRENT.tmp"
        pointer.write_text(generation)
        os.replace(pointer, index_dir / "CURRENT")  # the switch: atomic on POSIX
    except AssistantError:
        raise
    except Exception as e:
        raise IndexBuildError(f"index build failed ({type(e).__name__}: {e}); the previous index still serves") from e
    finally:
        for leftover in index_dir.glob(".building-*"):
            shutil.rmtree(leftover, ignore_errors=True)
    live = {c.id for c in chunks}
    stale = [i for i in stored if i not in live]
    if stale:
        store.delete(stale)
    if reuse is None:  # a build that reused the models did not embed the training texts: keep them cached
        texts.drop_unused()
    remove_retired(index_dir, keep=(generation, previous))
    return BuildReport(generation=generation, chunks=len(chunks), embedded=len(new),
                       reused=len(chunks) - len(new), removed=len(stale), documents=len(docs),
                       official_languages=tuple(t.lang for t in official), seconds=time.perf_counter() - t0,
                       models_from=reuse.name if reuse is not None else "")


def _previous_term_counts(index_dir: Path) -> dict:
    """Term counts of the live generation's chunks (by content id), so a re-index analyses only new text."""
    previous = current_generation(index_dir)
    if previous is None:
        return {}
    try:
        lex = json.loads((index_dir / previous / "lexical.json").read_text(encoding="utf-8"))
        counts = {}
        for v in lex.values():
            counts.update(BM25Index.from_json(v).term_counts())
        return counts
    except (OSError, ValueError, TypeError, KeyError):
        return {}  # unreadable: analyse everything again


def remove_retired(index_dir: Path, keep: tuple[str | None, ...], grace: float = RETIRED_GRACE_SECONDS,
                   now: float | None = None) -> list[str]:
    """Delete generations retired more than ``grace`` seconds ago (except ``keep``); returns their names.

    A generation retires when the next one is published: the next one's ``build.json`` dates that.
    """
    now = time.time() if now is None else now
    gens = sorted(p for p in index_dir.glob("gen-*") if p.is_dir())
    removed = []
    for old, successor in zip(gens, gens[1:], strict=False):
        if old.name in keep:
            continue
        try:
            retired_at = (successor / "build.json").stat().st_mtime
        except OSError:
            continue
        if now - retired_at >= grace:
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old.name)
    return removed


def load_index(index_dir: Path) -> IndexData:
    """Load the live generation; IndexMissingError says which command builds it."""
    generation = current_generation(index_dir)
    if generation is None:
        raise IndexMissingError(f"no index in {index_dir.parent}: build it with `{BUILD_COMMAND}` "
                                "(or `make run`, which also imports the official text)")
    d = index_dir / generation
    try:
        chunks = {c["id"]: Chunk(**{**c, "articles": tuple(c.get("articles", ()))})
                  for c in json.loads((d / "chunks.json").read_text(encoding="utf-8"))}
        lex = json.loads((d / "lexical.json").read_text(encoding="utf-8"))
        lexical = {lang: BM25Index.from_json(v) for lang, v in lex.items()}
        tit = json.loads((d / "titles.json").read_text(encoding="utf-8"))
        titles = {lang: BM25Index.from_json(v) for lang, v in tit.items()}
        glossary = Glossary.from_json(json.loads((d / "glossary.json").read_text(encoding="utf-8")))
        info = json.loads((d / "build.json").read_text(encoding="utf-8"))
        keys = [Key(**k) for k in json.loads((d / "keys.json").read_text(encoding="utf-8"))]
        kl = json.loads((d / "keys_lexical.json").read_text(encoding="utf-8"))
        key_lexical = {lang: BM25Index.from_json(v) for lang, v in kl.items()}
        ranker_json = json.loads((d / "ranker.json").read_text(encoding="utf-8"))
        ranker = Ranker.from_json(ranker_json) if ranker_json else None
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise IndexMissingError(f"the index in {d} is unreadable or from an older version ({e}): rebuild it with "
                                f"`{BUILD_COMMAND}`") from None
    return IndexData(generation=generation, chunks=chunks, lexical=lexical, titles=titles, glossary=glossary,
                     info=info, keys=keys, key_lexical=key_lexical, ranker=ranker, path=d)


def retriever_text(text: str) -> str:
    """A question as the retriever embeds it (the scope classifier is trained on the same)."""
    return text


def keys_index(keys: list[Key]) -> dict[str, BM25Index]:
    """BM25 over the question keys of each language (a key's id in the index is its position)."""
    return {lang: BM25Index.build(lang, [(str(i), k.text) for i, k in enumerate(keys) if k.lang == lang])
            for lang in ("fr", "en")}


def title_text(chunk: Chunk) -> str:
    """The title field of a bundled document (a decision's also names the organisation)."""
    head = chunk.search_text.split("\n" + chunk.text, 1)[0] if chunk.text else chunk.search_text
    if chunk.section:
        head = head.replace("\n" + chunk.section, "")
    return head
