"""Index builds: incremental re-embedding, removal, atomic failure, missing index (fake embedder, real Chroma)."""

import shutil

import pytest

from assistant.corpus.eurlex import parse_eurlex, save_official
from assistant.errors import IndexBuildError, IndexMissingError
from assistant.retrieval.embeddings import HashEmbedder
from assistant.retrieval.index import build_index, current_generation, load_index
from assistant.retrieval.retriever import HybridRetriever
from assistant.retrieval.vectorstore import open_store

from conftest import FIXTURES


def build(settings, embedder):
    return build_index(settings, embedder, open_store(settings, embedder.name))


def test_first_build_then_nothing_to_do(settings):
    emb = HashEmbedder()
    r1 = build(settings, emb)
    assert r1.embedded == r1.chunks > 0 and r1.reused == 0
    r2 = build(settings, emb)
    assert (r2.embedded, r2.removed, r2.reused) == (0, 0, r1.chunks)
    assert r2.generation != r1.generation
    assert current_generation(settings.index_dir) == r2.generation


def test_changing_one_document_re_embeds_only_its_chunks(settings):
    emb = HashEmbedder()
    build(settings, emb)
    f = settings.corpus_dir / "faq" / "en" / "breach-72-hours.md"
    f.write_text(f.read_text(encoding="utf-8").replace("Within 72 hours", "No later than 72 hours"),
                 encoding="utf-8")
    emb.calls = 0
    r = build(settings, emb)
    assert r.embedded == 1 and r.removed == 1
    assert emb.calls == 1
    chunks = load_index(settings.index_dir).chunks.values()
    assert any("No later than 72 hours" in c.text for c in chunks)
    assert not any("Within 72 hours" in c.text for c in chunks)


def test_deleted_document_is_removed_from_both_indexes(settings):
    emb = HashEmbedder()
    build(settings, emb)
    store = open_store(settings, emb.name)
    n_before = len(store.ids())
    shutil.rmtree(settings.corpus_dir / "decisions")
    r = build(settings, emb)
    assert r.removed == 2 and r.embedded == 0
    assert len(store.ids()) == n_before - 2
    idx = load_index(settings.index_dir)
    assert not [c for c in idx.chunks.values() if c.kind == "cnil_decision"]
    assert not any(cid in idx.chunks for lex in idx.lexical.values() for cid in lex.ids if "Dedalus" in cid)


class FailingEmbedder(HashEmbedder):
    """Fails on its second batch, like a build killed halfway."""

    def __init__(self):
        super().__init__()
        self.batches = 0

    def embed_documents(self, texts):
        self.batches += 1
        if self.batches > 1:
            raise RuntimeError("simulated crash during embedding")
        return super().embed_documents(texts)


def test_failed_build_leaves_the_previous_index_serving(settings):
    emb = HashEmbedder()
    first = build(settings, emb)
    retriever = HybridRetriever(settings, emb, open_store(settings, emb.name))
    before = [h.chunk.id for h in retriever.retrieve("data breach notification 72 hours").hits]
    # Add the official excerpt (enough chunks for two batches) and make the embedder fail.
    text = parse_eurlex((FIXTURES / "eurlex_excerpt_en.html").read_text(encoding="utf-8"), complete=False)
    big = text.articles[0]
    big.paragraphs = [type(big.paragraphs[0])(number=str(i), text=f"paragraph {i} about data") for i in range(300)]
    save_official(text, settings.official_dir)
    failing = FailingEmbedder()
    failing.name = emb.name
    with pytest.raises(IndexBuildError, match="previous index still serves"):
        build(settings, failing)
    assert current_generation(settings.index_dir) == first.generation
    assert not list(settings.index_dir.glob(".building-*"))
    again = HybridRetriever(settings, emb, open_store(settings, emb.name))
    assert [h.chunk.id for h in again.retrieve("data breach notification 72 hours").hits] == before
    # The next successful build reuses what the failed one had embedded.
    r = build(settings, emb)
    assert r.reused > first.chunks


def test_missing_index_names_the_build_command(settings):
    with pytest.raises(IndexMissingError, match="gdpr-assistant index"):
        load_index(settings.index_dir)


def test_index_built_with_another_embedder_is_refused(settings):
    build(settings, HashEmbedder(dim=128))
    other = HashEmbedder(dim=64)
    with pytest.raises(IndexMissingError, match="rebuild it with `gdpr-assistant index`"):
        HybridRetriever(settings, other, open_store(settings, other.name))


def test_empty_corpus_and_no_official_text(tmp_path):
    from conftest import make_settings

    (tmp_path / "c").mkdir()
    s = make_settings(tmp_path / "d", corpus_dir=tmp_path / "c")
    with pytest.raises(IndexBuildError, match="import-eurlex"):
        build(s, HashEmbedder())


def test_retrieval_crosses_languages_through_the_glossary(settings):
    emb = HashEmbedder()
    build(settings, emb)
    r = HybridRetriever(settings, emb, open_store(settings, emb.name)).retrieve("We had a data leak, what now?")
    assert r.language == "en"
    assert "fuite de données" in r.expansions["fr"]
    assert "faq-breach-72-hours-en" in [h.chunk.doc_id for h in r.hits[:3]]  # found through "fuite"/"leak"
    assert all(h.chunk.lang == "en" for h in r.hits if h.chunk.kind in ("faq", "guide"))  # the question's language
    assert len({h.chunk.group for h in r.hits}) == len(r.hits)  # one per group


def test_models_are_reused_when_few_documents_change(settings):
    """A corrected answer does not retrain the ranker and scope classifier; many changes or --retrain do."""
    emb = HashEmbedder()
    first = build(settings, emb)
    assert first.models_from == "" and (settings.index_dir / first.generation / "scope.joblib").exists()
    docs = sorted((settings.corpus_dir / "faq" / "en").glob("*.md"))
    docs[0].write_text(docs[0].read_text(encoding="utf-8").replace("\n\n## ", " Corrected.\n\n## ", 1),
                       encoding="utf-8")
    second = build(settings, emb)
    assert second.embedded >= 1 and second.models_from == first.generation
    assert (settings.index_dir / second.generation / "scope.joblib").read_bytes() == \
        (settings.index_dir / first.generation / "scope.joblib").read_bytes()
    third = build_index(settings, emb, open_store(settings, emb.name), retrain=True)
    assert third.models_from == ""
    for d in sorted(settings.corpus_dir.rglob("*.md")):  # every document changes: far more than 5 %
        if d.name != "README.md":
            d.write_text(d.read_text(encoding="utf-8").rstrip() + "\n\nReviewed.\n", encoding="utf-8")
    assert build(settings, emb).models_from == ""


def test_a_question_naming_a_sanctioned_organisation_gets_its_decision_first(settings):
    emb = HashEmbedder()
    build(settings, emb)
    retriever = HybridRetriever(settings, emb, open_store(settings, emb.name))
    # The rest of the question is about breach notification, which other sources answer better.
    for q in ("Faut-il notifier une violation de données sous 72 heures, comme Dedalus ?",
              "breach notification within 72 hours: what happened with dedalus?"):
        hits = retriever.retrieve(q).hits
        assert hits[0].chunk.kind == "cnil_decision" and hits[0].score >= max(h.score for h in hits[1:]), q
    unnamed = retriever.retrieve("Faut-il notifier une violation de données sous 72 heures ?").hits
    assert unnamed[0].chunk.kind != "cnil_decision"
    # Only the brand counts: "biologie" is an ordinary word, "dedalus" is not.
    assert retriever.named_decisions["cnil_decision-decision-cnil-2022-dedalus-biologie"][0] == {"dedalus"}
