"""Tokens, n-grams, vocabulary, padding, bags and naive-Bayes ratios."""

import numpy as np
import pytest

from nnscratch.text import (PAD, UNK, Vocab, bag, nb_log_count_ratio, ngrams, pad,
                            tokenize)


def test_tokenize_keeps_clitics_hyphens_and_punctuation():
    assert tokenize("It's a well-made film, isn't it?") == [
        "it", "'s", "a", "well-made", "film", ",", "is", "n't", "it", "?"]
    # MR is already tokenized: its tokens pass through unchanged
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
    # Ties in frequency are broken alphabetically, whatever the order of the sentences: "d",
    # "c" and "b" are all seen twice, first met in the order d, c, b (or b, c, d reversed)
    ties = [["d", "c", "a"], ["a", "b", "z"], ["b", "c", "a", "d"]]
    for order in (ties, ties[::-1]):
        w = Vocab.build(order, min_count=2)
        assert w.tokens == ["<pad>", "<unk>", "a", "b", "c", "d"]
        assert w.counts.tolist() == [0, 0, 3, 2, 2, 2]
        # and max_size cuts within the tie by the same order
        assert Vocab.build(order, max_size=2).tokens == ["<pad>", "<unk>", "a", "b"]
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


def test_pad_refuses_float_ids_rather_than_truncating_them():
    # [1.7, 2.9] used to become [1, 2]
    with pytest.raises(TypeError, match="pad: sequences\\[0\\] must hold integer token ids, "
                                        "got dtype float64"):
        pad([np.array([1.7, 2.9]), np.array([3])])
    with pytest.raises(ValueError, match=r"pad: sequences\[1\] must be a 1-D array of ids, "
                                         r"got shape \(1, 2\)"):
        pad([np.array([1]), np.array([[1, 2]])])
    # int32 ids, lists and empty sequences of any dtype still pad
    np.testing.assert_array_equal(
        pad([np.array([5, 6], np.int32), [7], np.array([])]), [[5, 6], [7, PAD], [UNK, PAD]])


def test_vocab_decode_refuses_ids_outside_the_vocabulary():
    v = Vocab.build([["a", "b"]])
    # -1 used to wrap round to the last token
    with pytest.raises(ValueError, match=r"Vocab.decode: ids must lie in \[0, 4\), "
                                         r"got values from -1 to 2"):
        v.decode([2, -1])
    with pytest.raises(ValueError, match=r"Vocab.decode: ids must lie in \[0, 4\), "
                                         r"got values from 0 to 5"):
        v.decode(np.array([0, 5]))
    with pytest.raises(TypeError, match=r"Vocab.decode: ids must hold integer token ids in "
                                        r"\[0, 4\), got dtype float64"):
        v.decode([2.0])
    assert v.decode(np.array([3, 2, 0], np.int32)) == ["b", "a", "<pad>"]
    assert v.decode(iter([2])) == ["a"] and v.decode([]) == []


def test_nb_ratio_refuses_labels_other_than_0_and_1_and_ids_past_the_vocabulary():
    bags = np.array([[2, 3], [4, 0], [2, 0]])
    # a label 2 was silently left out of both classes
    with pytest.raises(ValueError, match=r"nb_log_count_ratio: y must contain only 0 "
                                         r"\(negative\) and 1 \(positive\), got 1 other "
                                         r"values: \[2\]"):
        nb_log_count_ratio(bags, np.array([1, 2, 0]), 5)
    with pytest.raises(TypeError, match="nb_log_count_ratio: y must hold integer class labels, "
                                        "got dtype float64"):
        nb_log_count_ratio(bags, np.array([1.0, 1.0, 0.0]), 5)
    # an id of 7 with n_tokens = 5 gave a bare broadcast error
    with pytest.raises(ValueError, match=r"nb_log_count_ratio: bags must lie in \[0, 5\), "
                                         r"got values from 0 to 7"):
        nb_log_count_ratio(np.array([[2, 3], [4, 0], [7, 0]]), np.array([1, 1, 0]), 5)
    with pytest.raises(TypeError, match=r"nb_log_count_ratio: bags must hold integer token "
                                        r"ids in \[0, 5\), got dtype float64"):
        nb_log_count_ratio(bags.astype(float), np.array([1, 1, 0]), 5)
    assert nb_log_count_ratio(bags, np.array([1, 1, 0], np.int32), 5).shape == (5,)


def test_vocab_counts_must_match_the_tokens():
    with pytest.raises(ValueError, match="Vocab: counts must hold one count per token, 3, got 2"):
        Vocab(["<pad>", "<unk>", "film"], [0, 0])
    assert Vocab(["<pad>", "<unk>", "film"], [0, 0, 7]).counts.tolist() == [0, 0, 7]


def test_tokenize_cuts_a_quote_off_and_keeps_only_english_clitics():
    # an opening quote used to be glued to the next word: "'great", then "'"
    quoted = "he said ' great ' and left ."
    assert tokenize("He said 'great' and left.") == quoted.split()
    assert tokenize("the '70s 'it's'") == "the ' 70s ' it 's '".split()
    for clitic, word in [
        ("'s", "sad"),
        ("'re", "really"),
        ("'ve", "very"),
        ("'ll", "llama"),
        ("'d", "dull"),
        ("'m", "mess"),
    ]:
        # the clitic is a token, cut from its word or already cut (as in MR)
        assert tokenize(f"They{clitic} here") == ["they", clitic, "here"]
        assert tokenize(f"they {clitic} here") == ["they", clitic, "here"]
        # a quoted word that starts with the clitic's letters is a word between quotes
        assert tokenize(f"a '{word}' one") == ["a", "'", word, "'", "one"]
    assert tokenize("We don't, do we?") == "we do n't , do we ?".split()


def test_a_str_is_refused_where_tokens_are_expected():
    v = Vocab.build([["the", "cat"]])
    # a str used to be read as its characters: 7 ids for "the cat"
    with pytest.raises(
        TypeError,
        match=r"Vocab.encode: tokens must be a sequence of tokens "
        r"\(a list of str\), got a str, 'the cat'; cut it "
        r"into tokens first, e.g. with tokenize\(\)",
    ):
        v.encode("the cat")
    with pytest.raises(
        TypeError,
        match=r"Vocab.build: sentences must be an iterable of "
        r"tokenized sentences \(lists of str\), got a str, "
        r"'the cat'",
    ):
        Vocab.build("the cat")
    with pytest.raises(
        TypeError,
        match=r"Vocab.build: sentences\[1\] must be a sequence of "
        r"tokens \(a list of str\), got a str, "
        r"'a dog that barks at every c\.\.\.'",
    ):
        Vocab.build(iter([["a", "cat"], "a dog that barks at every cat it sees"]))
    with pytest.raises(
        TypeError,
        match=r"ngrams: tokens must be a sequence of tokens \(a list "
        r"of str\), got a str, 'not good'",
    ):
        ngrams("not good")
    # sequences of tokens of any kind still work, a generator of sentences too
    np.testing.assert_array_equal(v.encode(("cat", "dog", "the")), [2, UNK, 3])
    known = Vocab.build(s for s in [("b", "a"), ["a"]])
    assert known.tokens == ["<pad>", "<unk>", "a", "b"]
    assert ngrams(("a", "b")) == ["a", "b", "a b"]
