"""Fit the default verifier on one half of QQP and write binary_semantic_cache/verifier/params.json.

The fit half is the even pair indices; benchmarks/quality.py measures on the odd ones. The model
is fitted on the fit half's pairs whose 256-bit similarity reaches FLOOR (the verifier is never
asked below it), IDF from the fit half's questions. Then the similarity threshold and the
verifier's cut-off to use together are chosen on the fit half (cache protocol): the pair that
keeps the duplicate hit rate at least MIN_HIT_RATE with the fewest false hits. They are printed,
to be written into binary_semantic_cache/verifier/__init__.py.

    .venv/bin/python benchmarks/fit_verifier.py   # minutes the first time, seconds after
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _qqp import QQP_PATH, embed_pairs, file_digest, load_pairs
from _verify import FIT, FLOOR, features, half, probabilities, scored_pairs
from quality import core_top1, filled_cache

from binary_semantic_cache import DEFAULT_SIMILARITY_THRESHOLD
from binary_semantic_cache.calibrate import pair_similarities
from binary_semantic_cache.embeddings import DefaultEmbedder
from binary_semantic_cache.guards import PrecisionGuards
from binary_semantic_cache.verifier.features import FEATURES
from binary_semantic_cache.verifier.model import PARAMS_PATH, VerifierModel, idf_table

# The most common word pieces given their own IDF; every other piece counts as rare.
IDF_PIECES = 2000
MIN_HIT_RATE = 0.38


def main() -> None:
    pairs = load_pairs(QQP_PATH)
    embedder = DefaultEmbedder()
    va, vb = embed_pairs(pairs, embedder, QQP_PATH)
    n = len(pairs)
    fit = half(n, FIT)
    sims = pair_similarities(va, vb, code_bits=256)
    best, arg = core_top1(filled_cache(va, 256, False, DEFAULT_SIMILARITY_THRESHOLD), vb)
    wanted = scored_pairs(pairs.a, pairs.b, sims, best, arg)

    questions = sorted(
        {pairs.a[i] for i in np.flatnonzero(fit)} | {pairs.b[i] for i in np.flatnonzero(fit)}
    )
    idf, unseen = idf_table(embedder.tokens(questions), IDF_PIECES)
    # Through JSON, so the features are those of the shipped (rounded) IDF table.
    blank = VerifierModel.from_json(
        VerifierModel((0.0,) * len(FEATURES), 0.0, idf, unseen).to_json()
    )
    x_all = features([s for s, _ in wanted], [q for _, q in wanted], blank)
    row = {pair: i for i, pair in enumerate(wanted)}
    train = [i for i in np.flatnonzero(fit & (sims >= FLOOR))]
    x = x_all[[row[(pairs.a[i], pairs.b[i])] for i in train]]
    y = pairs.label[train]
    model = blank.with_fit(
        x,
        y,
        fitted_on=f"{QQP_PATH.name} (sha256 {file_digest(QQP_PATH)}), even pair indices",
        pairs=len(train),
        duplicates=int(y.sum()),
        selection=f"256-bit similarity >= {FLOOR} (code seed default)",
        idf=f"{IDF_PIECES} most common word pieces of the fit half's {len(questions):,} questions",
        embedder=embedder.model_id,
        date=str(date.today()),
    )
    PARAMS_PATH.write_text(model.to_json() + "\n", encoding="utf-8")
    print(f"wrote {PARAMS_PATH} ({len(train):,} pairs, {int(y.sum()):,} duplicates)")
    for name, w in zip(FEATURES, model.weights, strict=True):
        print(f"  {name:20s} {w:+.3f}")
    print(f"  {'bias':20s} {model.bias:+.3f}")

    # Threshold and cut-off, chosen on the fit half's lookups (cache protocol).
    p = probabilities(model, wanted)
    guards = PrecisionGuards()
    lookups = np.flatnonzero(fit & (best >= FLOOR))
    prob = np.zeros(n)
    allowed = np.zeros(n, dtype=bool)
    for i in lookups:
        s = pairs.a[int(arg[i])]
        prob[i] = p[(s, pairs.b[i])]
        allowed[i] = guards.check(pairs.b[i], s) is None
    right = pairs.label & np.array([pairs.a[int(j)] == pairs.a[i] for i, j in enumerate(arg)])
    dups, non = int((fit & pairs.label).sum()), int((fit & ~pairs.label).sum())
    choices = []
    for t in np.round(np.arange(FLOOR, 0.93, 0.005), 3):
        for cut in np.round(np.arange(0.05, 0.96, 0.05), 2):
            served = fit & (best >= t) & allowed & (prob >= cut)
            hit = int((served & right).sum()) / dups
            false = int((served & ~pairs.label).sum()) / non
            if hit >= MIN_HIT_RATE:
                choices.append((false, -hit, float(t), float(cut)))
    false, hit, t, cut = min(choices)
    print(
        f"threshold {t:.3f}, cut-off {cut:.2f}: fit-half hit rate {-hit:.4f}, false hits "
        f"{false:.4f} (cache protocol)"
    )


if __name__ == "__main__":
    main()
