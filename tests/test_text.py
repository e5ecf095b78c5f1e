"""Tokens, n-grams, vocabulary, padding, bags and naive-Bayes ratios."""

import numpy as np
import pytest

from nnscratch.text import (PAD, UNK, Vocab, bag, nb_log_count_ratio, ngrams, pad,
                            tokenize)


def test_tokenize_keeps_clitics_hyphens_and_punctuation():
    assert tokenize("It's a well-made film, isn't it?") == [
        "it", "'s", "a", "well-made", "film", ",", "is", "n't", "it", "?"]
    # MR is already tokenised: its tokens pass through unchanged
    assert tokenize("does n't work , it 's caf\xe9 . . .") == [
        "does", "n't", "work", ",", "it", "'s", "caf\xe9", ".", ".", "."]
    with pytest.raises(TypeError, match="tokenize: text must be a str, got bytes"):
        tokenize(b"abc")


def test_ngrams_append_every_window_in_order():
    assert ngrams(["a", "b", "c"], 3) == ["a", "b", "c", "a b", "b c", "a b c"]
    assert ngrams(["a"], 2) == ["a"] and ngrams([], 2) == []
    assert ngrams(["a", "b"], 1) == ["a", "b"]


def test_vocab_orders_by_frequency_then_alphabet_and_cuts_rare_tokens():
    sents = [["b", "a", "c"], ["a", "b", "d"], ["a", "e"]]
    v = Vocab.build(sents, min_count=2)
    assert v.tokens == ["<pad>", "<unk>", "a", "b"] and len(v) == 4
    assert v.counts.tolist() == [0, 0, 3, 2]
    np.testing.assert_array_equal(v.encode(["b", "zzz", "a"]), [3, UNK, 2])
    assert v.decode([2, 0]) == ["a", "<pad>"]
    assert Vocab.build(sents[::-1], min_count=2).tokens == v.tokens   # order-free
    assert Vocab.build(sents, max_size=1).tokens == ["<pad>", "<unk>", "a"]
    with pytest.raises(ValueError, match="must start with '<pad>', '<unk>'"):
        Vocab(["a", "b"])
    with pytest.raises(ValueError, match=r"Vocab: tokens must be distinct, got 2 repeated: "
                                         r"\['b', 'a'\]"):
        Vocab(["<pad>", "<unk>", "b", "a", "b", "a", "b"])


def test_pad_and_its_mask():
    ids = pad([np.array([5, 6, 7]), np.array([8]), np.array([], dtype=np.int64)])
    np.testing.assert_array_equal(ids, [[5, 6, 7], [8, PAD, PAD], [UNK, PAD, PAD]])
    assert ids.dtype == np.int64
    np.testing.assert_array_equal((ids != PAD).sum(axis=1), [3, 1, 1])
    np.testing.assert_array_equal(pad([np.array([5, 6, 7])], max_len=2), [[5, 6]])
    with pytest.raises(ValueError, match="pad: ids must be non-negative, got -3 in sequence 1 "
                                         "at position 2"):
        pad([np.array([5]), np.array([2, 4, -3, -1])])


def test_bag_is_the_distinct_known_ids():
    b = bag([np.array([4, 3, 4, UNK]), np.array([2])])
    np.testing.assert_array_equal(b, [[3, 4], [2, PAD]])


def test_nb_ratio_matches_the_dense_formula():
    rng = np.random.default_rng(0)
    v, n = 9, 40
    dense = (rng.random((n, v)) < 0.3).astype(float)
    dense[:, [PAD, UNK]] = 0
    y = rng.integers(0, 2, n)
    bags = pad([np.flatnonzero(row) for row in dense])
    r = nb_log_count_ratio(bags, y, v, alpha=0.5)
    p = 0.5 + dense[y == 1].sum(0)
    q = 0.5 + dense[y == 0].sum(0)
    p, q = p[2:], q[2:]
    np.testing.assert_allclose(r[2:], np.log(p / p.sum()) - np.log(q / q.sum()), rtol=1e-12)
    assert r[PAD] == r[UNK] == 0
    with pytest.raises(ValueError, match=r"bags must be \(N, L\) and y \(N,\)"):
        nb_log_count_ratio(bags, y[:-1], v)


def test_bag_agrees_with_the_obvious_set_per_row():
    rng = np.random.default_rng(3)
    seqs = [rng.integers(0, 12, rng.integers(0, 9)) for _ in range(50)]
    b = bag(seqs)
    for s, row in zip(seqs, b):
        expected = sorted(set(s.tolist()) - {PAD, UNK})
        assert row[row != PAD].tolist() == expected
    assert b.shape[1] == max(len(set(s.tolist()) - {PAD, UNK}) for s in seqs)
