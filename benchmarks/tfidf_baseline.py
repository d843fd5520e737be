"""Baseline without training: Pearson r of the cosine of character n-gram TF-IDF vectors on KLUE-STS dev.

    python benchmarks/tfidf_baseline.py [--data ../shared/data]

The quickstart recipe must beat this number (the issue's calibration: 0.37).
"""

import argparse
from pathlib import Path

import numpy as np
from scipy import stats
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from hf_sts.data.readers import read_sts_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[1] / "recipes" / "data"))
    args = parser.parse_args()
    train = read_sts_file(Path(args.data) / "klue-sts" / "klue-sts-v1.1_train.csv")
    dev = read_sts_file(Path(args.data) / "klue-sts" / "klue-sts-v1.1_dev.json")
    for ngram_range in ((1, 2), (1, 3), (2, 4)):
        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=ngram_range, sublinear_tf=True)
        vectorizer.fit(train["sentence1"][:] + train["sentence2"][:])
        a = normalize(vectorizer.transform(dev["sentence1"][:]))
        b = normalize(vectorizer.transform(dev["sentence2"][:]))
        cosine = np.asarray(a.multiply(b).sum(axis=1)).ravel()
        pearson = stats.pearsonr(cosine, dev["label"][:]).statistic
        print(f"char n-gram TF-IDF cosine, n={ngram_range}: dev Pearson {pearson:.4f}")


if __name__ == "__main__":
    main()
