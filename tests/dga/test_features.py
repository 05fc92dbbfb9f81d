"""Features of hand-made labels: encoding, lexical, benign n-gram, word-split and hashed n-gram features."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dnsvigil.dga.alphabet import HYPHEN, OTHER, EncodedLabels, encode_labels
from dnsvigil.dga.charngrams import linear_scores, ngram_buckets
from dnsvigil.dga.features import DENSE_FEATURES, dense_features
from dnsvigil.dga.lexical import LEXICAL_FEATURES, lexical_features
from dnsvigil.dga.ngrams import NGRAM_FEATURES, count_ngrams, ngram_features
from dnsvigil.dga.wordsplit import (
    WORD_FEATURES,
    WordTable,
    build_word_table,
    shipped_word_table,
    word_features,
)


def lexical(label: str) -> dict[str, float]:
    return dict(zip(LEXICAL_FEATURES, lexical_features(encode_labels([label]))[0].tolist(), strict=True))


def words(label: str, table: WordTable | None = None) -> dict[str, float]:
    row = word_features(encode_labels([label]), table or shipped_word_table())[0]
    return dict(zip(WORD_FEATURES, row.tolist(), strict=True))


def test_encoding_maps_letters_digits_hyphen_and_the_rest() -> None:
    encoded = encode_labels(["aZ", "", "0-9", "é_"])
    assert encoded.offsets.tolist() == [0, 2, 2, 5, 7]
    assert encoded.codes.tolist() == [1, 26, 27, HYPHEN, 36, OTHER, OTHER]
    assert len(encoded) == 4


def test_encoded_labels_reject_inconsistent_offsets() -> None:
    with pytest.raises(ValueError, match="offsets"):
        EncodedLabels(np.zeros(3, dtype=np.uint8), np.array([0, 2], dtype=np.int64))


def test_lexical_features_of_hand_made_labels() -> None:
    repeated = lexical("aaa")
    assert repeated["length"] == 3
    assert repeated["vowel_share"] == 1
    assert repeated["entropy"] == 0
    assert repeated["doubled_share"] == pytest.approx(2 / 3)
    assert repeated["unique_share"] == pytest.approx(1 / 3)
    mixed = lexical("a1b2")
    assert mixed["digit_share"] == 0.5
    assert mixed["entropy"] == pytest.approx(2.0)
    assert mixed["class_switch_share"] == pytest.approx(3 / 4)
    assert mixed["first_is_digit"] == 0
    hexadecimal = lexical("0123abcdef")
    assert hexadecimal["hex_only"] == 1
    assert hexadecimal["first_is_digit"] == 1
    assert lexical("xyz")["hex_only"] == 0
    consonants = lexical("strengths")  # one vowel: runs "str" and "ngths"
    assert consonants["max_consonant_run"] == 5
    assert consonants["consonant_run_share"] == pytest.approx(8 / 9)
    assert lexical("my-site")["hyphens"] == 1
    assert lexical("banana")["vowel_alternation_share"] == pytest.approx(5 / 6)


def test_ngram_features_leave_one_out_equal_counts_without_the_label() -> None:
    labels = ["google", "facebook", "goodbook", "gogo", "x"]
    counts = count_ngrams(encode_labels(labels))
    for index, label in enumerate(labels):
        others = count_ngrams(encode_labels(labels[:index] + labels[index + 1 :]))
        left_out = ngram_features(encode_labels([label]), counts, exclude_self=True)
        without = ngram_features(encode_labels([label]), others)
        np.testing.assert_allclose(left_out, without, rtol=1e-6)


def test_ngram_features_rank_an_ordinary_label_above_a_random_one() -> None:
    counts = count_ngrams(encode_labels(["shop", "shopping", "myshop", "shoes", "hope", "hopping", "stop"]))
    ordinary, random = ngram_features(encode_labels(["shopstop", "qzxkvjwq"]), counts)
    named = dict(zip(NGRAM_FEATURES, zip(ordinary, random, strict=True), strict=True))
    assert named["trigram_logprob"][0] > named["trigram_logprob"][1]
    assert named["unseen_bigram_share"][0] < named["unseen_bigram_share"][1]
    assert named["fourgram_seen_share"][1] == 0


def test_word_split_on_a_small_table() -> None:
    table = build_word_table(
        ["remember", "space", "member", "pace", "re"], ["remember", "space"], np.log(np.array([0.01, 0.02]))
    )
    split = words("rememberspace", table)
    assert split["dictionary_coverage3"] == 1
    assert split["dictionary_words3"] == 2  # fewest words among full covers: remember + space
    assert split["dictionary_mean_word_length4"] == pytest.approx(6.5)
    assert split["longest_word_share"] == pytest.approx(8 / 13)
    assert split["unigram_unknown_share"] == 0
    assert split["unigram_logprob"] == pytest.approx((math.log(0.01) + math.log(0.02)) / 13, rel=1e-6)
    unknown = words("qzxv", table)
    assert unknown["dictionary_coverage3"] == 0
    assert unknown["unigram_unknown_share"] == 1


def test_shipped_word_table_separates_words_from_random_letters() -> None:
    wordy, random = words("rememberspace"), words("qraqlbccxz")
    assert wordy["dictionary_coverage4"] == 1
    assert random["dictionary_coverage4"] < 0.5
    assert wordy["unigram_logprob"] > random["unigram_logprob"]


def test_dense_features_have_one_column_per_name() -> None:
    labels = encode_labels(["google", "xj4k2"])
    counts = count_ngrams(encode_labels(["google", "example"]))
    matrix = dense_features(labels, counts, shipped_word_table())
    assert matrix.shape == (2, len(DENSE_FEATURES))
    assert np.isfinite(matrix).all()


@pytest.mark.parametrize("orders", [(1, 5), (2, 2), (1, 4)])
def test_hashed_ngrams_count_and_scoring_agree(orders: tuple[int, int]) -> None:
    labels = ["", "a", "ab", "abcdefgh"]
    pointers, buckets = ngram_buckets(encode_labels(labels), orders=orders, bits=12)
    expected = [sum(max(len(label) + 3 - n, 0) for n in range(orders[0], orders[1] + 1)) for label in labels]
    assert np.diff(pointers).tolist() == expected
    assert buckets.min() >= 0 and buckets.max() < 1 << 12
    weights = np.random.default_rng(0).normal(size=(1 << 12, 2)).astype(np.float32)
    bias = np.array([0.5, -1.0], dtype=np.float32)
    scores = linear_scores(encode_labels(labels), weights, bias, orders=orders)
    for row in range(len(labels)):
        expected_score = (
            weights[buckets[pointers[row] : pointers[row + 1]]].astype(np.float64).sum(axis=0) + bias
        )
        np.testing.assert_allclose(scores[row], expected_score, rtol=1e-6)


def test_selected_labels_equal_the_labels_encoded_alone() -> None:
    labels = ["google", "", "x1-z", "abc"]
    selected = encode_labels(labels).select(np.array([3, 1, 0, 3], dtype=np.int64))
    expected = encode_labels(["abc", "", "google", "abc"])
    assert selected.codes.tolist() == expected.codes.tolist()
    assert selected.offsets.tolist() == expected.offsets.tolist()
