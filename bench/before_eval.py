#!/usr/bin/env python
"""Score the engine as it was (commit 3994e69, wt-before) with today's harness and criterion."""
import sys, json
sys.path.insert(0, '/work/wt-before')
from pathlib import Path
from assistant.config import Settings
from assistant.runtime import open_answer_service
from assistant.corpus.loader import load_corpus
sys.path.insert(0, '/tmp/evalmod')
import evaluation as E   # today's harness, copied
s = Settings.from_env(data_dir='/work/main/data-before', corpus_dir='/work/wt-before/corpus')
svc = open_answer_service(s)
arts = {d.id: list(d.articles) for d in load_corpus(s.corpus_dir)}
def enrich(c):
    doc = c['page'].rsplit('/', 1)[-1]
    c = dict(c); c['articles'] = arts.get(doc, [c['article']] if c.get('article') else [])
    return c
def ask(q):
    a = svc.ask(q).to_dict()
    a['citations'] = [enrich(c) for c in a['citations']]
    return a, a['citations']
for f in sys.argv[1:]:
    rep = E.run_answer_eval(ask, E.read_items(Path(f)))
    rep['groups'] = {'all': rep['groups']['all']}
    print(E.format_table(rep, f"{Path(f).name} (before: 3994e69)"))
