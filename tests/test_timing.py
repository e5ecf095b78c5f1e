"""nnscratch.timing: the fastest call of each run, the runs taking turns."""

import itertools

import pytest

from nnscratch.timing import fastest


class FakeClock:
    """A clock that each run advances by the time it says it took."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def run(self, log, name, durations):
        """A run called ``name`` that takes ``durations`` seconds, one per call, in turn."""
        it = iter(durations)

        def call():
            log.append(name)
            self.now += next(it)

        return call


def test_each_run_gets_its_fastest_call():
    clock, log = FakeClock(), []
    runs = {
        "a": clock.run(log, "a", [3.0, 1.0, 2.0]),
        "b": clock.run(log, "b", [0.5, 0.7, 0.25]),
    }
    assert fastest(runs, rounds=3, clock=clock) == {"a": 1.0, "b": 0.25}


def test_the_runs_take_turns_and_each_round_starts_with_the_next():
    clock, log = FakeClock(), []
    runs = {k: clock.run(log, k, itertools.repeat(1.0)) for k in "abc"}
    result = fastest(runs, rounds=4, clock=clock)
    assert log == list("abc" "bca" "cab" "abc")
    assert list(result) == ["a", "b", "c"]  # the order of runs, not of the last round


def test_warmup_calls_are_made_first_and_not_timed():
    clock, log = FakeClock(), []
    runs = {
        "a": clock.run(log, "a", [0.01, 5.0, 4.0]),
        "b": clock.run(log, "b", [0.01, 6.0, 3.0]),
    }
    result = fastest(runs, rounds=2, warmup=1, clock=clock)
    assert log == ["a", "b", "a", "b", "b", "a"]
    assert result == {"a": 4.0, "b": 3.0}  # not the warm-up calls' 0.01

    log.clear()
    runs = {"a": clock.run(log, "a", [1.0, 2.0, 3.0])}
    assert fastest(runs, rounds=1, warmup=2, clock=clock) == {"a": 3.0}
    assert log == ["a", "a", "a"]


def test_a_block_of_calls_is_timed_and_divided_by_its_number():
    clock, log = FakeClock(), []
    runs = {
        "a": clock.run(log, "a", [1.0, 1.0, 4.0, 2.0, 2.0, 2.0]),
        "b": clock.run(log, "b", [0.5, 0.7, 0.25]),
    }
    result = fastest(runs, rounds=3, number={"a": 2, "b": 1}, clock=clock)
    assert log == list("aab" "baa" "aab")  # blocks take turns, not single calls
    assert result == {"a": 1.0, "b": 0.25}  # blocks of 2, 6 and 4 s, over 2

    log.clear()
    runs = {k: clock.run(log, k, [1.0, 3.0, 2.0, 2.0, 3.0]) for k in "ab"}
    result = fastest(runs, rounds=1, number=2, warmup=1, clock=clock)
    assert log == list("ab" "aa" "bb")  # the warm-up is one call, not a block
    assert result == {"a": 2.5, "b": 2.5}


def test_with_the_real_clock_a_longer_run_is_slower():
    def spin(n):
        return lambda: sum(range(n))

    result = fastest({"short": spin(1_000), "long": spin(200_000)}, rounds=3)
    assert 0 < result["short"] < result["long"]


# None stands for a good run, one that records that it was called.
@pytest.mark.parametrize(
    "runs, kwargs, error, message",
    [
        ([lambda: None], {}, TypeError, "runs must be a mapping of names to functions"),
        ({}, {}, ValueError, "runs must name at least one function, got none"),
        (
            {"a": 3},
            {},
            TypeError,
            r"runs\['a'\] must be a function of no argument, got int",
        ),
        (None, {"rounds": 0}, ValueError, "rounds must be a positive integer, got 0"),
        (
            None,
            {"rounds": 2.0},
            TypeError,
            "rounds must be a positive integer, got 2.0",
        ),
        (
            None,
            {"warmup": -1},
            ValueError,
            "warmup must be a non-negative integer, got -1",
        ),
        (None, {"number": 0}, ValueError, "number must be a positive integer, got 0"),
        (
            None,
            {"number": 1.5},
            TypeError,
            "number must be a positive integer, got 1.5",
        ),
        (
            None,
            {"number": {"a": 2, "b": 3}},
            ValueError,
            r"number must give a count for each run, \['a'\], got counts for \['a', 'b'\]",
        ),
        (
            None,
            {"number": {}},
            ValueError,
            r"number must give a count for each run, \['a'\]",
        ),
        (
            None,
            {"number": {"a": 0}},
            ValueError,
            r"number\['a'\] must be a positive integer",
        ),
    ],
)
def test_bad_arguments_say_what_was_expected_and_call_nothing(runs, kwargs, error, message):
    called = []
    if runs is None:
        runs = {"a": lambda: called.append(1)}
    with pytest.raises(error, match=f"^fastest: {message}"):
        fastest(runs, **kwargs)
    assert called == []
