"""Scope and safety before an answer: greetings, injections, and a classifier for the rest.

Rules catch what rules are good at: greetings, thanks and prompt-injection attempts get a fixed
reply. Everything else goes to a classifier trained at index time on examples in both languages
(``data/scope_examples.yaml``: GDPR questions in plain words, off-topic requests that sound close,
abusive requests by category) plus every FAQ phrasing of the corpus. It says whether a message is
in scope, off topic, or abusive (help to break data-protection law or to dodge it); an abusive
request gets a refusal naming the obligation at stake and the sanction risk. A word list cannot
decide scope: "which antivirus does the CNIL recommend" is off topic, "my details are wrong in a
supplier's file" is in scope.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from ..retrieval.text import fold
from ..texts import N_, translate

log = logging.getLogger(__name__)
EXAMPLES = Path(__file__).parent / "data" / "scope_examples.yaml"
MODEL_FILE = "scope.joblib"
CLASSES = ("in_scope", "off_topic", "abusive")
# Decision thresholds on the classifier's probabilities (chosen on the tuning questions: the dev set's
# tuning halves, the public sample and the scope probes). The abusive one sits in the widest gap above
# every real question there (highest 0.52, "we complete the register now with today's date: how do we
# explain it to the inspectors?") and below the abusive requests above it (lowest 0.60).
ABUSIVE_THRESHOLD = 0.56
OFF_TOPIC_THRESHOLD = 0.5
# The sentence embedding counts half as much as the character and word n-grams: the packaged model
# is English-first, and on the tuning questions (French mostly) the n-grams separate the classes better.
EMBEDDING_WEIGHT = 0.5
TOL = 1e-8  # the solver's tolerance: see fit_scope_classifier

# Prompt-injection and jailbreak attempts: never answered, whatever else the message says.
INJECTION = re.compile(r"""(
    \b(ignore|disregard|forget|oublie[zr]?|ignore[zr]?)\b.{0,40}\b(instructions?|consignes?|regles?|rules|prompt|previous|precedent|above|ci-dessus)\b
  | \b(system|systeme)\s*prompt\b | \bprompt\s+(systeme|system)\b
  | \b(print|show|reveal|repeat|display|affiche[zr]?|montre[zr]?|revele[zr]?|donne[zr]?(-moi)?|repete[zr]?)\b.{0,30}\b(your|tes|vos|ton|votre)\s+(instructions?|consignes?|prompt|configuration|rules|regles)\b
  | \b(you\s+are\s+now|tu\s+es\s+maintenant|vous\s+etes\s+maintenant|act\s+as|pretend\s+(to\s+be|you)|fais\s+semblant|joue\s+le\s+role)\b
  | \bjailbreak\b | \bDAN\b | \bdeveloper\s+mode\b | \bmode\s+developpeur\b
  | <\s*/?\s*(system|script|assistant)\b | \[\s*(system|inst)\s*\]
)""", re.I | re.X)

GREETING = re.compile(r"^\s*(bonjour|bonsoir|salut|coucou|hello|hi|hey|good\s+(morning|afternoon|evening)|yo)\b[\s!.,?]*"
                      r"((comment\s+(ca|vas?[- ]tu|allez[- ]vous)\s+va\??|how\s+are\s+you\??|ca\s+va\s*\??)[\s!.,?]*)?$", re.I)
THANKS = re.compile(r"^\s*(merci|thanks?|thank\s+you|super|parfait|top|great|ok|d'accord|cool)\b"
                    r"([\s!.,]*(beaucoup|a\s+vous|a\s+toi|bien|very\s+much|a\s+lot|so\s+much|merci))*[\s!.,]*$", re.I)

REPLIES = {
    "greeting": N_("Hello! I answer questions about the GDPR and personal data protection (obligations, rights, the CNIL). What would you like to know?"),
    "thanks": N_("You're welcome. Ask me anything else about the GDPR."),
    "off_topic": N_("I can only answer questions about the GDPR and personal data protection. For this topic, please ask a qualified professional."),
    "injection": N_("I can't do that. I only answer questions about the GDPR and personal data protection."),
}

# Refusals of abusive requests: what the law requires and what the person risks. Article numbers
# are the GDPR's unless a code is named; no figure is given where it depends on the case.
ABUSE_REPLIES = {
    "intrusion": N_("I can't help you access a system, an account or a mailbox without authorisation. Unauthorised access to a computer system is a criminal offence in France (Criminal Code, art. 323-1), and so is opening or reading someone else's correspondence (art. 226-15), including an employee's personal messages. If you suspect misconduct, use lawful means: a lawyer, a bailiff's report."),
    "covert_surveillance": N_("I can't help you monitor someone without their knowledge. In France no information about an employee may be collected by a device they were not told about beforehand (Labour Code, art. L. 1222-4); the GDPR requires informing people (Art. 13) and monitoring proportionate to a legitimate aim (Art. 5); secretly recording someone's words or image in a private place is a criminal offence (Criminal Code, art. 226-1). Lawful monitoring is possible: a legitimate aim, informed staff, the works council consulted, proportionate means."),
    "doxxing": N_("I can't help you find or compile information about a person. Data may only be used for the purpose it was collected for (Art. 5(1)(b)): using a social security number, a customer file or images to trace someone is a misuse of purpose, a criminal offence in France (Criminal Code, art. 226-21). For a debt or a dispute, go through a bailiff (commissaire de justice) or a lawyer."),
    "scraping": N_("I can't help you collect personal data behind people's backs. Scraping profiles or contact details needs a lawful basis (Art. 6) and informing the people concerned (Art. 14); emailing consumers for marketing needs their prior consent; collecting data by fraudulent, unfair or unlawful means is a criminal offence in France (Criminal Code, art. 226-18). The CNIL fines such practices (KASPR, 2024, for instance)."),
    "evade_rights": N_("I can't help you obstruct people's rights. You must make it easy to exercise them and answer within one month (Art. 12); access, erasure and objection are set out in Arts. 15, 17 and 21. Breaches of these rights carry the highest fines: up to EUR 20 million or 4 %% of total worldwide annual turnover (Art. 83(5)). If requests pile up, set up a procedure to handle them: I can explain how."),
    "hide_breach": N_("I can't help you hide a data breach. It must be notified to the supervisory authority (the CNIL in France) within 72 hours when it poses a risk to people (Art. 33), communicated to the people affected when the risk is high (Art. 34), and recorded in your breach log (Art. 33(5)). Destroying logs or evidence makes things worse. These failures carry fines of up to EUR 10 million or 2 %% of total worldwide annual turnover (Art. 83(4)). Even late, notify: the notification must then give the reasons for the delay."),
    "deceive_authority": N_("I can't help you deceive the CNIL. You must cooperate with the supervisory authority (Art. 31); fabricating or back-dating a record of processing, an impact assessment or consent proofs is forgery (French Criminal Code, art. 441-1), and obstructing the CNIL is an offence under the French Data Protection Act. Better to acknowledge what is missing and present a dated compliance plan: I can help you build it."),
    "discrimination": N_("I can't help you exclude people on that ground. Processing data about health, ethnic origin, religion, sexual orientation or trade-union membership is prohibited in principle (Art. 9), and excluding someone on those grounds is unlawful discrimination in France (Criminal Code, arts. 225-1 and 225-2; Labour Code, art. L. 1132-1 for employment)."),
}

@dataclass(frozen=True)
class ScopeDecision:
    """``verdict``: in_scope, off_topic, abusive, greeting, thanks or injection; ``category`` of an abuse."""

    verdict: str
    probabilities: dict = field(default_factory=dict, compare=False)
    category: str = ""

    @property
    def refused(self) -> bool:
        """True when the question gets a fixed reply and no retrieval."""
        return self.verdict in ("greeting", "thanks", "off_topic", "injection", "abusive")


def check_rules(question: str) -> ScopeDecision | None:
    """Greetings, thanks and injection attempts, decided by rules; None for everything else."""
    q = fold(question)
    if INJECTION.search(q):
        return ScopeDecision("injection")
    if GREETING.match(q):
        return ScopeDecision("greeting")
    if THANKS.match(q):
        return ScopeDecision("thanks")
    return None


def fixed_reply(decision: ScopeDecision | str, lang: str) -> str:
    """The polite fixed reply for a refused question, in the user's language."""
    if isinstance(decision, str):
        decision = ScopeDecision(decision)
    if decision.verdict == "abusive":
        return translate(lang, ABUSE_REPLIES.get(decision.category, ABUSE_REPLIES["deceive_authority"]))
    key = decision.verdict if decision.verdict in ("greeting", "thanks", "injection") else "off_topic"
    return translate(lang, REPLIES[key])


def load_examples(path: Path = EXAMPLES) -> list[tuple[str, str, str, str]]:
    """The bundled examples as (text, lang, class, category) rows."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    rows = []
    for cls in ("in_scope", "off_topic"):
        for lang, texts in (data.get(cls) or {}).items():
            rows += [(_one_line(t, path, cls, lang), lang, cls, "") for t in texts or []]
    for category, by_lang in (data.get("abusive") or {}).items():
        for lang, texts in by_lang.items():
            rows += [(_one_line(t, path, f"abusive/{category}", lang), lang, "abusive", category) for t in texts or []]
    return rows


def _one_line(text, path: Path, section: str, lang: str) -> str:
    """An example as one line; anything but a string is an authoring slip, reported with its fix (an
    unquoted "question: detail" is read by YAML as a mapping)."""
    if not isinstance(text, str):
        raise ValueError(f"{path}: an entry of {section}/{lang} is not a string ({text!r}): put it in double quotes")
    return " ".join(text.split())


def _vectorizers():
    from sklearn.feature_extraction.text import TfidfVectorizer

    return (TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True, preprocessor=fold,
                            max_features=60000, dtype=np.float32),
            TfidfVectorizer(analyzer="word", ngram_range=(1, 2), min_df=1, sublinear_tf=True, preprocessor=fold,
                            token_pattern=r"(?u)\b\w+\b", dtype=np.float32))


def _features(vecs, texts: list[str], embeddings: np.ndarray):
    from scipy.sparse import csr_matrix, hstack

    return hstack([v.transform(texts) for v in vecs] + [csr_matrix(embeddings * EMBEDDING_WEIGHT)]).tocsr()


def scope_training_rows(docs, examples_path: Path = EXAMPLES) -> list[tuple[str, str, str, str]]:
    """(text, lang, class, category) to train on: the bundled examples, the visitors' paraphrases and
    every FAQ phrasing of the corpus (in scope)."""
    rows = load_examples(examples_path) if examples_path.exists() else []
    from ..retrieval.training import PARAPHRASES

    if PARAPHRASES.exists():  # visitors' questions written for each FAQ item: in scope, in everyday words
        for line in PARAPHRASES.read_text(encoding="utf-8").splitlines():
            if line.strip():
                d = json.loads(line)
                rows.append((" ".join(d["q"].split()), d["lang"], "in_scope", ""))
    for d in docs:
        if d.kind == "faq":
            rows += [(" ".join(str(t).split()), d.lang, "in_scope", "") for t in [d.title, *d.extra["questions"]]]
    return list(dict.fromkeys(rows))


def fit_scope_classifier(rows: list[tuple[str, str, str, str]], embeddings: np.ndarray, out_dir: Path,
                         C: float = 16.0) -> dict:
    """Fit on ``rows`` (``scope_training_rows``) and their embeddings; save the model in ``out_dir``.

    Needs no embedder: an index build runs it in a worker process while the ranker trains.
    """
    import joblib
    from sklearn.linear_model import LogisticRegression

    if not rows or len({r[2] for r in rows}) < 3:
        return {"examples": len(rows), "trained": False}
    texts = [r[0] for r in rows]
    vecs = _vectorizers()
    for v in vecs:
        v.fit(texts)
    X = _features(vecs, texts, embeddings)
    y = np.array([CLASSES.index(r[2]) for r in rows])
    # Solved to a tight tolerance: at lbfgs's default (1e-4) the solver stopped after 24-46 iterations at a
    # point that depended on the path, so adding four FAQ phrasings moved some questions' probabilities
    # by up to 0.16 and flipped 4 of 513 tuning verdicts; at 1e-8 (about 100 iterations) by 0.01 at most,
    # and none flipped.
    model = LogisticRegression(C=C, max_iter=3000, tol=TOL, class_weight="balanced")
    model.fit(X, y)
    abusive = [i for i, r in enumerate(rows) if r[2] == "abusive"]
    categories = sorted({rows[i][3] for i in abusive})
    cat_model = None
    if len(categories) > 1:
        cat_model = LogisticRegression(C=C, max_iter=3000, tol=TOL, class_weight="balanced")
        cat_model.fit(X[abusive], [categories.index(rows[i][3]) for i in abusive])
    joblib.dump({"vectorizers": vecs, "model": model, "categories": categories, "category_model": cat_model},
                out_dir / MODEL_FILE)
    counts = {c: sum(1 for r in rows if r[2] == c) for c in CLASSES}
    return {"examples": len(rows), "trained": True, **counts}


class ScopeClassifier:
    """The trained classifier of an index generation (loaded once, deterministic)."""

    def __init__(self, path: Path):
        import joblib

        bundle = joblib.load(path)
        self.vectorizers = bundle["vectorizers"]
        self.model = bundle["model"]
        self.categories = bundle["categories"]
        self.category_model = bundle["category_model"]

    @classmethod
    def load(cls, index_path: Path | None) -> ScopeClassifier | None:
        """The classifier saved with an index generation, or None when it has none."""
        if index_path is None or not (Path(index_path) / MODEL_FILE).exists():
            return None
        return cls(Path(index_path) / MODEL_FILE)

    def probabilities(self, question: str, embedding: np.ndarray) -> dict[str, float]:
        """Probability of each class for one question (its embedding as the retriever computes it)."""
        X = _features(self.vectorizers, [question], embedding.reshape(1, -1))
        p = self.model.predict_proba(X)[0]
        return {CLASSES[int(c)]: float(v) for c, v in zip(self.model.classes_, p, strict=True)}

    def decide(self, question: str, embedding: np.ndarray) -> ScopeDecision:
        """in_scope, off_topic or abusive (with the abuse category) for one question."""
        p = self.probabilities(question, embedding)
        if p.get("abusive", 0.0) >= ABUSIVE_THRESHOLD:
            category = ""
            if self.category_model is not None:
                X = _features(self.vectorizers, [question], embedding.reshape(1, -1))
                category = self.categories[int(self.category_model.predict(X)[0])]
            elif self.categories:
                category = self.categories[0]
            return ScopeDecision("abusive", p, category)
        if p.get("off_topic", 0.0) >= OFF_TOPIC_THRESHOLD:
            return ScopeDecision("off_topic", p)
        return ScopeDecision("in_scope", p)
