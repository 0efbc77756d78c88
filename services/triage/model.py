"""The statistical part of triage: character n-gram TF-IDF with logistic regression, trained on labelled complaints.

Chinese needs no word segmentation here: character 1–3-grams carry the words and survive OCR noise and
colloquial spelling. Three heads: subcategory (category follows from it), severity, validity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from services.triage.extract import caller_text

MODEL_PATH = Path(__file__).parent / "model" / "triage.joblib"
SEED = 7


def normalize(text: str) -> str:
    """What the model reads: the complainant's words, digits folded, whitespace dropped."""
    t = caller_text(text).lower()
    t = re.sub(r"\d+", "0", t)
    return re.sub(r"\s+", "", t)


def _vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2, max_features=15_000,
                           dtype=np.float32)


def _classifier(c: float) -> LogisticRegression:
    return LogisticRegression(C=c, max_iter=2000, class_weight="balanced", random_state=SEED)


HEADS = {"subcategory": 20.0, "severity": 10.0, "valid": 5.0}  # regularisation chosen by cross-validation


@dataclass
class TriageModel:
    """One shared character n-gram vocabulary, one linear classifier per head."""

    vectorizer: TfidfVectorizer
    heads: dict[str, LogisticRegression]

    @classmethod
    def train(cls, rows: list[dict[str, Any]]) -> TriageModel:
        vectorizer = _vectorizer()
        x = vectorizer.fit_transform([normalize(r["text"]) for r in rows])
        heads = {}
        for name, c in HEADS.items():
            y = [str(bool(r[name])) if name == "valid" else r[name] for r in rows]
            clf = _classifier(c).fit(x, y)
            clf.coef_ = clf.coef_.astype(np.float32)  # halves the file; predictions unchanged in practice
            heads[name] = clf
        return cls(vectorizer, heads)

    def predict(self, text: str) -> dict[str, dict[str, float]]:
        """Class probabilities per head (the lean path below; same numbers as scikit-learn's, ten times faster)."""
        return self._lean().predict(normalize(text))

    def predict_sklearn(self, text: str) -> dict[str, dict[str, float]]:
        x = self.vectorizer.transform([normalize(text)])
        return {name: {str(c): float(p) for c, p in zip(clf.classes_, clf.predict_proba(x)[0], strict=True)}
                for name, clf in self.heads.items()}

    def _lean(self) -> LeanPredictor:
        if getattr(self, "_lean_cache", None) is None:
            self._lean_cache = LeanPredictor(self)
        return self._lean_cache

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_lean_cache", None)
        return state


    def save(self, path: Path = MODEL_PATH) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, path, compress=("xz", 6))

    @staticmethod
    def load(path: Path = MODEL_PATH) -> TriageModel:
        return joblib.load(path)


class LeanPredictor:
    """TF-IDF and the linear heads for one text at a time, without scikit-learn's per-call overhead.

    Mirrors TfidfVectorizer(analyzer="char", sublinear_tf=True, norm="l2") and LogisticRegression.predict_proba.
    """

    def __init__(self, model: TriageModel) -> None:
        v = model.vectorizer
        self.vocab: dict[str, int] = v.vocabulary_
        self.idf = v.idf_.astype(np.float64)
        self.min_n, self.max_n = v.ngram_range
        self.heads = [(name, [str(c) for c in clf.classes_], clf.coef_.astype(np.float64),
                       clf.intercept_.astype(np.float64)) for name, clf in model.heads.items()]

    def predict(self, text: str) -> dict[str, dict[str, float]]:
        counts: dict[int, int] = {}
        for n in range(self.min_n, self.max_n + 1):
            for i in range(len(text) - n + 1):
                j = self.vocab.get(text[i:i + n])
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
        idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        w = (1.0 + np.log(tf)) * self.idf[idx] if len(idx) else tf
        norm = np.sqrt(np.dot(w, w))
        if norm > 0:
            w = w / norm
        out = {}
        for name, classes, coef, intercept in self.heads:
            z = coef[:, idx] @ w + intercept
            if len(classes) == 2:
                p1 = 1.0 / (1.0 + np.exp(-z[0]))
                probs = [1.0 - p1, p1]
            else:
                e = np.exp(z - z.max())
                probs = list(e / e.sum())
            out[name] = {c: float(p) for c, p in zip(classes, probs, strict=True)}
        return out
