import math
import os
import signal

import numpy as np
import pytest

from nnscratch.optim import SGD, Adam, AdamW, ParameterAverage, RMSprop
from nnscratch.schedules import CosineLR, LinearWarmup, Product, StepLR



def _torch():
    return pytest.importorskip("torch")


def step_both(ours, topt, params, tparams, rng):
    """One step of our optimizer and of torch's on the same random gradients."""
    grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    ours.step(params, grads)
    for k, t in tparams.items():
        t.grad = t.detach().new_tensor(grads[k])
    topt.step()


# ---------------------------------------------------------------- hand-computed steps

def test_sgd_step_matches_hand_computation():
    params = {"W": np.array([1.0, -2.0]), "b": np.array([0.5])}
    grads = {"W": np.array([0.5, 0.25]), "b": np.array([-1.0])}
    opt = SGD(lr=0.1)
    opt.step(params, grads)
    np.testing.assert_allclose(params["W"], [0.95, -2.025])
    np.testing.assert_allclose(params["b"], [0.6])
    assert opt.t == 1


def test_sgd_momentum_by_hand():
    # b1 = g1 = 1; theta = 1 - 0.1*1 = 0.9; b2 = 0.9*1 + 2 = 2.9; theta = 0.9 - 0.29 = 0.61
    p = {"w": np.array([1.0])}
    opt = SGD(lr=0.1, momentum=0.9)
    opt.step(p, {"w": np.array([1.0])})
    np.testing.assert_allclose(p["w"], [0.9])
    opt.step(p, {"w": np.array([2.0])})
    np.testing.assert_allclose(p["w"], [0.61])
    np.testing.assert_allclose(opt.state["w"]["b"], [2.9])


def test_sgd_nesterov_and_weight_decay_by_hand():
    # g1 = 1 + 0.5*2 = 2, b1 = 2, d = 2 + 0.5*2 = 3, theta = 2 - 0.1*3 = 1.7
    # g2 = 1 + 0.5*1.7 = 1.85, b2 = 0.5*2 + 1.85 = 2.85, d = 1.85 + 1.425 = 3.275
    p = {"w": np.array([2.0])}
    opt = SGD(lr=0.1, momentum=0.5, nesterov=True, weight_decay=0.5)
    opt.step(p, {"w": np.array([1.0])})
    np.testing.assert_allclose(p["w"], [1.7])
    opt.step(p, {"w": np.array([1.0])})
    np.testing.assert_allclose(p["w"], [1.7 - 0.1 * 3.275])


def test_rmsprop_by_hand():
    # v1 = 0.1 * 4 = 0.4; theta = 1 - 0.01 * 2 / (sqrt(0.4) + 1e-8)
    p = {"w": np.array([1.0])}
    RMSprop(lr=0.01, alpha=0.9).step(p, {"w": np.array([2.0])})
    np.testing.assert_allclose(p["w"], [1 - 0.01 * 2 / (math.sqrt(0.4) + 1e-8)], rtol=1e-15)


def test_adam_first_step_is_lr_times_sign():
    # bias correction makes m_hat = g and v_hat = g^2: the first step is lr * g / (|g| + eps)
    p = {"w": np.array([1.0, 1.0])}
    Adam(lr=0.1).step(p, {"w": np.array([3.0, -0.5])})
    np.testing.assert_allclose(p["w"], [1 - 0.1 * 3 / (3 + 1e-8), 1 + 0.1 * 0.5 / (0.5 + 1e-8)], rtol=1e-15)


def test_adam_two_steps_by_hand():
    b1, b2, lr, eps = 0.9, 0.999, 0.1, 1e-8
    g1, g2 = 1.0, 3.0
    m = (1 - b1) * g1
    v = (1 - b2) * g1**2
    theta = 0.0 - lr * (m / (1 - b1)) / (math.sqrt(v / (1 - b2)) + eps)
    m = b1 * m + (1 - b1) * g2
    v = b2 * v + (1 - b2) * g2**2
    theta -= lr * (m / (1 - b1**2)) / (math.sqrt(v / (1 - b2**2)) + eps)
    p = {"w": np.array([0.0])}
    opt = Adam(lr=lr)
    opt.step(p, {"w": np.array([g1])})
    opt.step(p, {"w": np.array([g2])})
    np.testing.assert_allclose(p["w"], [theta], rtol=1e-14)


def test_adamw_decays_before_adam_step_and_differs_from_l2_adam():
    # AdamW: theta = 2*(1 - 0.1*0.5) = 1.9, then the Adam step of g = 1 is -0.1*1/(1+eps)
    p = {"w": np.array([2.0])}
    AdamW(lr=0.1, weight_decay=0.5).step(p, {"w": np.array([1.0])})
    np.testing.assert_allclose(p["w"], [1.9 - 0.1 / (1 + 1e-8)], rtol=1e-15)
    # Adam with L2: g = 1 + 0.5*2 = 2, first step is still lr * sign: 2 - 0.1
    q = {"w": np.array([2.0])}
    Adam(lr=0.1, weight_decay=0.5).step(q, {"w": np.array([1.0])})
    np.testing.assert_allclose(q["w"], [2 - 0.1 * 2 / (2 + 1e-8)], rtol=1e-15)


# ---------------------------------------------------------------- against torch.optim

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, weight_decay=0.1)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.005, alpha=0.9, eps=1e-6, momentum=0.5, weight_decay=0.01)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, betas=(0.5, 0.9), eps=1e-7, weight_decay=0.3)),
]


@pytest.mark.parametrize("name, kwargs", CONFIGS)
def test_matches_torch_optim_for_several_steps(name, kwargs, rng):
    torch = _torch()
    ours = {"SGD": SGD, "RMSprop": RMSprop, "Adam": Adam, "AdamW": AdamW}[name](**kwargs)
    params = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    tparams = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in params.items()}
    topt = getattr(torch.optim, name)(list(tparams.values()), **kwargs)
    for _ in range(6):
        step_both(ours, topt, params, tparams, rng)
        for k in params:
            np.testing.assert_allclose(params[k], tparams[k].detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("schedule", ["step", "cosine"])
def test_schedules_match_torch(schedule):
    torch = _torch()
    t = torch.nn.Parameter(torch.zeros(1))
    topt = torch.optim.SGD([t], lr=0.5)
    opt = SGD(lr=0.5)
    if schedule == "step":
        ts, ours = torch.optim.lr_scheduler.StepLR(topt, 3, gamma=0.5), StepLR(opt, 3, gamma=0.5)
    else:
        ts, ours = (torch.optim.lr_scheduler.CosineAnnealingLR(topt, 10, eta_min=0.01),
                    CosineLR(opt, 10, lr_min=0.01))
    for _ in range(10):
        topt.step()
        ts.step()
        ours.step()
        assert opt.lr == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12)


# ---------------------------------------------------------------- dtype, in place, state

@pytest.mark.parametrize("make", [lambda: SGD(0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
                                  lambda: RMSprop(momentum=0.9, weight_decay=0.1),
                                  lambda: Adam(weight_decay=0.1), lambda: AdamW()])
def test_float32_stays_float32_and_updates_in_place(make, rng):
    w = rng.standard_normal((5, 3)).astype(np.float32)
    g = rng.standard_normal((5, 3)).astype(np.float32)
    w0, g0 = w.copy(), g.copy()
    params = {"w": w}
    opt = make()
    for _ in range(3):
        opt.step(params, {"w": g})
    # the same array, changed where it is, still float32
    assert params["w"] is w and w.dtype == np.float32
    assert not np.array_equal(w, w0)
    assert all(s.dtype == np.float32 for s in opt.state["w"].values())
    np.testing.assert_array_equal(g, g0)  # grads are never modified


def test_state_is_per_key(rng):
    opt = Adam()
    params = {"a": np.zeros(2), "b": np.zeros(3)}
    opt.step(params, {"a": np.ones(2), "b": np.ones(3)})
    assert set(opt.state) == {"a", "b"} and opt.state["b"]["m"].shape == (3,)


def test_bad_arguments():
    with pytest.raises(ValueError, match="lr must be positive"):
        SGD(lr=0)
    with pytest.raises(KeyError, match="same keys"):
        SGD(lr=0.1).step({"a": np.ones(1)}, {"b": np.ones(1)})
    with pytest.raises(ValueError, match="shape"):
        SGD(lr=0.1).step({"a": np.ones(2)}, {"a": np.ones(3)})
    with pytest.raises(TypeError, match="dtype float32.*float64"):
        SGD(lr=0.1).step({"a": np.ones(2)}, {"a": np.ones(2, dtype=np.float32)})
    with pytest.raises(ValueError, match="SGD: nesterov=True needs momentum > 0, got momentum=0.0"):
        SGD(0.1, nesterov=True)
    with pytest.raises(ValueError, match="momentum"):
        SGD(0.1, momentum=1.0)
    with pytest.raises(ValueError, match="betas"):
        Adam(betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="weight_decay"):
        AdamW(weight_decay=-1)
    with pytest.raises(ValueError, match="alpha"):
        RMSprop(alpha=1.5)
    with pytest.raises(ValueError, match="step_size"):
        StepLR(SGD(0.1), 0)
    with pytest.raises(ValueError, match="t_max"):
        CosineLR(SGD(0.1), 0)


# ---------------------------------------------------------------- schedules

def test_step_lr_values():
    opt = SGD(lr=1.0)
    sched = StepLR(opt, step_size=2, gamma=0.5)
    assert [sched.step() for _ in range(6)] == [1.0, 0.5, 0.5, 0.25, 0.25, 0.125]
    assert opt.lr == 0.125


def test_cosine_values_and_floor():
    opt = SGD(lr=1.0)
    sched = CosineLR(opt, t_max=4, lr_min=0.2)
    lrs = [sched.step() for _ in range(6)]
    expected = [0.2 + 0.4 * (1 + math.cos(math.pi * e / 4)) for e in (1, 2, 3, 4)]
    np.testing.assert_allclose(lrs[:4], expected)
    assert lrs[4] == lrs[5] == pytest.approx(0.2)


def test_warmup_then_cosine_compose():
    opt = SGD(lr=1.0)
    sched = Product(LinearWarmup(opt, 4), CosineLR(opt, 8))
    assert opt.lr == pytest.approx(0.25)            # epoch 1 runs at 1/4 of the rate
    lrs = [sched.step() for _ in range(8)]
    expected = [min(1, (e + 1) / 4) * 0.5 * (1 + math.cos(math.pi * e / 8)) for e in range(1, 9)]
    np.testing.assert_allclose(lrs, expected)
    assert lrs[-1] == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda opt: StepLR(opt, step_size=0),
            r"^StepLR: step_size must be a positive integer, got 0$",
        ),
        (
            lambda opt: StepLR(opt, step_size=2, gamma=-1.0),
            r"^StepLR: gamma must be positive and finite, got -1\.0$",
        ),
        (
            lambda opt: CosineLR(opt, 10, lr_min=0.5),  # above the rate 0.1
            r"^CosineLR: lr_min must be a finite number in \[0, 0\.1\], got 0\.5$",
        ),
        (
            lambda opt: LinearWarmup(opt, 0),
            r"^LinearWarmup: warmup must be a positive integer, got 0$",
        ),
    ],
)
def test_a_refused_schedule_leaves_the_optimizer_untouched(make, message):
    opt = SGD(lr=0.1)
    with pytest.raises(ValueError, match=message):
        make(opt)
    assert opt.lr == 0.1 and not hasattr(opt, "initial_lr")
    opt.lr = 0.5  # a schedule made now starts from the rate the optimizer has now
    sched = CosineLR(opt, 10, lr_min=0.05)
    assert sched.base_lr == 0.5 and opt.initial_lr == 0.5


def test_product_needs_schedules_and_all_of_one_optimizer():
    with pytest.raises(ValueError, match="^Product: give at least one schedule, got none$"):
        Product()
    first, second = SGD(lr=1.0), SGD(lr=0.5, momentum=0.9)
    warm, cos = LinearWarmup(first, 4), CosineLR(second, 8)
    with pytest.raises(ValueError, match=r"^Product: every schedule must wrap the same optimizer, "
                                         r"got part 0 wrapping SGD\(lr=0.25\b.*\) and part 2 "
                                         r"another, SGD\(lr=0.5\b.*\)$"):
        Product(warm, StepLR(first, 2), cos)
    assert (first.lr, second.lr) == (0.25, 0.5)    # as the parts left them: Product set nothing
    assert warm.epoch == 0 and cos.epoch == 0


def test_a_schedule_needs_an_optimizer_with_an_lr():
    with pytest.raises(TypeError, match="CosineLR: expected an optimizer with an lr, got dict"):
        CosineLR({}, 10)


def test_l2_penalty_value_gradient_and_equivalence_with_weight_decay(rng):
    from nnscratch.optim import l2_penalty
    params = {"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    value, grads = l2_penalty(params, 0.3)
    assert value == pytest.approx(0.15 * (np.sum(params["W"] ** 2) + np.sum(params["b"] ** 2)))
    np.testing.assert_allclose(grads["W"], 0.3 * params["W"])
    only_w = l2_penalty(params, 0.3, keys=["W"])
    assert set(only_w[1]) == {"W"}
    # SGD on loss + penalty == SGD(weight_decay) on the loss, and the same for Adam
    g = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    for make in (lambda wd: SGD(0.1, momentum=0.9, weight_decay=wd), lambda wd: Adam(0.1, weight_decay=wd)):
        a = {k: v.copy() for k, v in params.items()}
        b = {k: v.copy() for k, v in params.items()}
        opt_a, opt_b = make(0.3), make(0.0)
        for _ in range(3):
            opt_a.step(a, g)
            pen = l2_penalty(b, 0.3)[1]
            opt_b.step(b, {k: g[k] + pen[k] for k in g})
        for k in a:
            np.testing.assert_allclose(a[k], b[k], rtol=1e-13)
    with pytest.raises(KeyError, match="no parameters"):
        l2_penalty(params, 0.1, keys=["V"])
    with pytest.raises(ValueError, match="lam"):
        l2_penalty(params, -1)


# -- gradient clipping by global norm ------------------------------------------------------------

def test_clip_grad_norm_scales_all_gradients_by_one_factor():
    from nnscratch.optim import clip_grad_norm

    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[0.0], [4.0]])}   # global norm 5
    before = {k: v.copy() for k, v in grads.items()}
    assert clip_grad_norm(grads, 10.0) == pytest.approx(5.0)
    for k in grads:                                       # below the threshold: untouched
        np.testing.assert_array_equal(grads[k], before[k])
    assert clip_grad_norm(grads, 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose(grads["a"], [0.6, 0.0], rtol=1e-6)     # direction kept
    np.testing.assert_allclose(grads["b"], [[0.0], [0.8]], rtol=1e-6)
    total = np.sqrt(sum(np.sum(g ** 2) for g in grads.values()))
    assert total == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_keeps_dtype_and_matches_pytorch():
    from nnscratch.optim import clip_grad_norm

    rng = np.random.default_rng(0)
    grads = {"w": rng.standard_normal((4, 3)).astype(np.float32), "b": rng.standard_normal(3).astype(np.float32)}
    ref = {k: v.copy() for k, v in grads.items()}
    norm = clip_grad_norm(grads, 0.5)
    assert all(g.dtype == np.float32 for g in grads.values())
    torch = pytest.importorskip("torch")
    params = [torch.nn.Parameter(torch.zeros(v.shape)) for v in ref.values()]
    for p, v in zip(params, ref.values()):
        p.grad = torch.from_numpy(v.copy())
    norm_t = torch.nn.utils.clip_grad_norm_(params, 0.5)
    assert norm == pytest.approx(float(norm_t), rel=1e-6)
    for p, g in zip(params, grads.values()):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-6)


def test_clip_grad_norm_refuses_a_non_positive_threshold():
    from nnscratch.optim import clip_grad_norm

    with pytest.raises(ValueError, match="clip_grad_norm: max_norm must be positive and finite, got 0"):
        clip_grad_norm({"a": np.ones(2)}, 0)


# ---------------------------------------------------------------- per-parameter rates, freezing

OPTIMIZERS = {
    "SGD": lambda **kw: SGD(0.1, momentum=0.9, weight_decay=0.1, **kw),
    "RMSprop": lambda **kw: RMSprop(0.01, momentum=0.5, weight_decay=0.1, **kw),
    "Adam": lambda **kw: Adam(0.01, weight_decay=0.1, **kw),
    "AdamW": lambda **kw: AdamW(0.01, weight_decay=0.1, **kw),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_a_frozen_key_is_untouched_and_gets_no_state(name, rng):
    opt = OPTIMIZERS[name](lr_scale={"W": 0.0})
    params = {"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    W0, b0 = params["W"].copy(), params["b"].copy()
    for _ in range(3):
        grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
        opt.step(params, grads)
    np.testing.assert_array_equal(params["W"], W0)  # exactly: no decay either
    assert not np.allclose(params["b"], b0)
    assert "W" not in opt.state and opt.t == 3


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_a_scaled_key_moves_as_with_the_scaled_rate(name, rng):
    """lr_scale s on a key gives exactly the optimizer built with lr * s on that key."""
    make = OPTIMIZERS[name]
    params = {"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    scaled, alone = {k: v.copy() for k, v in params.items()}, {"W": params["W"].copy()}
    opt = make(lr_scale={"W": 0.25})
    ref = make()
    ref.lr *= 0.25
    for _ in range(4):
        grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
        opt.step(scaled, grads)
        ref.step(alone, {"W": grads["W"]})
    np.testing.assert_allclose(scaled["W"], alone["W"], rtol=1e-13, atol=1e-15)
    assert opt.lr_for("W") == pytest.approx(0.25 * opt.lr) and opt.lr_for("b") == opt.lr


@pytest.mark.parametrize("name", ["SGD", "RMSprop", "Adam", "AdamW"])
def test_per_key_rates_match_torch_parameter_groups(name, rng):
    torch = _torch()
    params = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    kwargs = dict(lr=0.05, weight_decay=0.1)
    make = {"SGD": SGD, "RMSprop": RMSprop, "Adam": Adam, "AdamW": AdamW}[name]
    ours = make(**kwargs, lr_scale={"W": 0.1})
    tparams = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in params.items()}
    groups = [{"params": [tparams["W"]], "lr": 0.005}, {"params": [tparams["b"]]}]
    topt = getattr(torch.optim, name)(groups, **kwargs)
    for _ in range(5):
        step_both(ours, topt, params, tparams, rng)
    for k in params:
        np.testing.assert_allclose(params[k], tparams[k].detach().numpy(), rtol=1e-10)


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_a_key_unfrozen_late_gets_a_first_steps_bias_correction(name, rng):
    """Adam counts steps per parameter (as PyTorch does): a key frozen for 50 steps and then
    unfrozen moves exactly as a fresh optimizer's first step moves it, not 2.5 times as far."""
    opt = OPTIMIZERS[name](lr_scale={"W": 0.0})
    params = {"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    for _ in range(50):
        opt.step(params, {k: rng.standard_normal(v.shape) for k, v in params.items()})
    opt.lr_scale = {}
    grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    alone = {"W": params["W"].copy()}
    opt.step(params, grads)
    OPTIMIZERS[name]().step(alone, {"W": grads["W"]})
    np.testing.assert_allclose(params["W"], alone["W"], rtol=1e-15)
    assert opt.steps == {"W": 1, "b": 51} and opt.t == 51


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_restore_undoes_steps_taken_since_the_snapshot(name, rng):
    opt = OPTIMIZERS[name](lr_scale={"c": 0.0})
    params = {k: rng.standard_normal(3) for k in "abc"}

    def some_steps(n):
        for _ in range(n):
            opt.step(params, {k: rng.standard_normal(3) for k in params})

    some_steps(2)
    saved = opt.snapshot()
    before = (opt.t, dict(opt.steps), {k: {n: a.copy() for n, a in b.items()} for k, b in opt.state.items()})
    opt.lr_scale = {}                     # c gets state of its own after the snapshot
    some_steps(3)
    assert opt.t == 5 and "c" in opt.state
    opt.restore(saved)
    assert (opt.t, opt.steps) == before[:2] and opt.state.keys() == before[2].keys()
    for k, buffers in before[2].items():
        assert buffers.keys() == opt.state[k].keys()
        for n, a in buffers.items():
            np.testing.assert_array_equal(opt.state[k][n], a)
            assert opt.state[k][n] is not saved["state"][k][n]   # the snapshot stays its own
    arrays = [a for b in saved["state"].values() for a in b.values()]
    again = opt.snapshot(saved)           # into the same arrays, no new ones
    assert again is saved and all(a is b for a, b in zip(arrays, (a for b in again["state"].values() for a in b.values())))


def test_a_schedule_scales_every_rate_and_keeps_frozen_keys_frozen():
    opt = SGD(lr=1.0, lr_scale={"a": 0.5, "c": 0.0})
    StepLR(opt, step_size=1, gamma=0.5).step()
    params = {"a": np.zeros(1), "b": np.zeros(1), "c": np.zeros(1)}
    opt.step(params, {k: np.ones(1) for k in params})
    np.testing.assert_array_equal([params[k][0] for k in "abc"], [-0.25, -0.5, 0.0])


def test_lr_scale_refuses_bad_input():
    with pytest.raises(TypeError, match="lr_scale must be a dict"):
        SGD(0.1, lr_scale=["W"])
    with pytest.raises(ValueError, match=r"lr_scale\['W'\]"):
        Adam(lr_scale={"W": -1.0})
    opt = RMSprop(lr_scale={"0.W": 0.0})
    with pytest.raises(KeyError, match=r"lr_scale names \['0.W'\].*not parameters"):
        opt.step({"W": np.ones(2)}, {"W": np.ones(2)})
    with pytest.raises(TypeError):  # keyword only: not mistaken for weight_decay
        SGD(0.1, 0.0, False, 0.0, {"W": 0.0})


# ---------------------------------------------------------------- ParameterAverage

def test_parameter_average_is_a_weighted_mean_with_weights_summing_to_one():
    beta = 0.9
    avg = ParameterAverage({"w": np.zeros(2)}, decay=beta)
    thetas = [np.array([1.0, -2.0]), np.array([3.0, 0.5]), np.array([-1.0, 4.0])]
    for theta in thetas:
        avg.update({"w": theta})
    weights = np.array([beta**2, beta, 1.0]) * (1 - beta) / (1 - beta**3)
    assert weights.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(avg.averaged()["w"], weights @ np.array(thetas), rtol=1e-14)
    # a parameter that never moves is its own average from the first step on
    still = ParameterAverage({"b": np.zeros(3)}, decay=0.999)
    for _ in range(3):
        still.update({"b": np.full(3, 0.25)})
    np.testing.assert_allclose(still.averaged()["b"], 0.25, rtol=1e-12)
    assert still.steps == 3


def test_parameter_average_applied_swaps_in_and_restores_even_on_error():
    params = {"W": np.array([[1.0, 2.0]], dtype=np.float32), "b": np.array([0.5], dtype=np.float32)}
    avg = ParameterAverage(params, decay=0.5)
    avg.update(params)
    params["W"][...] = 9.0   # training moves on
    avg.update(params)       # average of (1, 2) and (9, 9) with weights 1/3, 2/3
    trained = {k: v.copy() for k, v in params.items()}
    with avg.applied(params) as p:
        assert p is params and p["W"].dtype == np.float32
        np.testing.assert_allclose(p["W"], [[19 / 3, 20 / 3]], rtol=1e-6)
    for k in params:
        np.testing.assert_array_equal(params[k], trained[k])
    with pytest.raises(ZeroDivisionError):
        with avg.applied(params):
            1 / 0
    for k in params:
        np.testing.assert_array_equal(params[k], trained[k])


def test_parameter_average_sums_float32_parameters_in_float64():
    # A float32 random walk of tiny steps, averaged over 3000 steps with decay 0.999:
    # each update adds 1/1000 of a parameter to a sum near it, and a float32 sum would
    # round away about 1e-5 of the average (100 float32 spacings); a float64 sum keeps
    # it to the rounding of the float32 parameters themselves (below 1e-7).
    rng = np.random.default_rng(0)
    beta, steps = 0.999, 3000
    theta = rng.standard_normal(4).astype(np.float32)
    avg = ParameterAverage({"w": theta}, decay=beta)
    thetas = []
    for _ in range(steps):
        theta = theta + np.float32(1e-4) * rng.standard_normal(4, dtype=np.float32)
        assert theta.dtype == np.float32
        thetas.append(theta.astype(np.float64))
        avg.update({"w": theta})
    averaged = avg.averaged()["w"]
    assert averaged.dtype == np.float64, f"expected float64, got {averaged.dtype}"
    weights = (1 - beta) * beta ** np.arange(steps - 1, -1, -1) / (1 - beta**steps)
    np.testing.assert_allclose(averaged, weights @ np.array(thetas), rtol=1e-6, atol=0)


def test_parameter_average_refuses_bad_input():
    with pytest.raises(ValueError, match=r"decay must be.*got 1"):
        ParameterAverage({"w": np.zeros(2)}, decay=1.0)
    avg = ParameterAverage({"w": np.zeros(2)})
    with pytest.raises(RuntimeError, match="nothing averaged yet"):
        avg.averaged()
    with pytest.raises(ValueError, match=r"keys and shapes.*\{'w': \(2,\)\}, got \{'v': \(2,\)\}"):
        avg.update({"v": np.zeros(2)})
    # the expected shape is named too, not only the one that arrived
    with pytest.raises(ValueError, match=r"made for, \{'w': \(2,\)\}, got \{'w': \(3,\)\}"):
        avg.update({"w": np.zeros(3)})


def test_clip_grad_norm_leaves_non_finite_gradients_alone():
    from nnscratch.optim import clip_grad_norm

    grads = {"a": np.array([np.inf, 1.0]), "b": np.array([3.0])}
    assert clip_grad_norm(grads, 1.0) == np.inf
    np.testing.assert_array_equal(grads["a"], [np.inf, 1.0])
    np.testing.assert_array_equal(grads["b"], [3.0])


# ------------------------------------------------------------------ Ctrl-C and a step


class _PressedMidStep(Adam):
    """Adam that receives a real SIGINT (Ctrl-C) after updating its first parameter."""

    def _update(self, key, p, g):
        super()._update(key, p, g)
        if not getattr(self, "pressed", False):
            self.pressed = True
            os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name == "nt", reason="POSIX signals")
def test_ctrl_c_during_a_step_is_held_until_every_parameter_is_updated(rng):
    params = {k: rng.standard_normal(5) for k in ("a", "b", "c")}
    grads = {k: rng.standard_normal(5) for k in params}
    reference = {k: v.copy() for k, v in params.items()}
    Adam(0.1).step(reference, grads)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    opt = _PressedMidStep(0.1)
    with pytest.raises(KeyboardInterrupt):
        opt.step(params, grads)
    for k in params:                             # the whole step, not one parameter of three
        np.testing.assert_array_equal(params[k], reference[k], err_msg=k)
    assert opt.t == 1 and opt.steps == {"a": 1, "b": 1, "c": 1}
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
    opt.step(params, grads)                      # and the next step is not interrupted
    assert opt.t == 2


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_a_snapshot_into_an_older_one_drops_the_parameters_that_have_no_state_now(name, rng):
    opt = OPTIMIZERS[name]()
    params = {k: rng.standard_normal(3) for k in "ab"}
    empty = opt.snapshot()
    opt.step(params, {k: rng.standard_normal(3) for k in params})
    later = opt.snapshot()
    assert set(later["state"]) == {"a", "b"}
    opt.restore(empty)                     # back to before the first step: no state at all
    again = opt.snapshot(later)
    assert again is later and again["state"] == {} and again["t"] == 0 and again["steps"] == {}
    opt.step(params, {k: rng.standard_normal(3) for k in params})
    opt.restore(again)                     # restoring it must not bring the stale state back
    assert opt.state == {} and opt.t == 0


def test_a_snapshot_into_an_older_one_drops_the_buffers_a_parameter_has_no_more(rng):
    opt = RMSprop(0.01)                    # without momentum: one buffer "v" per parameter
    params = {"w": rng.standard_normal(3)}
    grads = [{"w": rng.standard_normal(3)} for _ in range(3)]
    opt.step(params, grads[0])
    early = opt.snapshot()
    opt.momentum = 0.5                     # momentum switched on: a second buffer "b"
    opt.step(params, grads[1])
    later = opt.snapshot()
    assert set(later["state"]["w"]) == {"v", "b"}
    opt.restore(early)
    again = opt.snapshot(later)
    assert again is later and set(again["state"]["w"]) == {"v"}
    np.testing.assert_array_equal(again["state"]["w"]["v"], early["state"]["w"]["v"])
    # restored from either snapshot, the next step starts its momentum afresh, identically
    from_early, from_again = params["w"].copy(), params["w"].copy()
    opt.restore(early)
    opt.step({"w": from_early}, grads[2])
    opt.restore(again)
    opt.step({"w": from_again}, grads[2])
    np.testing.assert_array_equal(from_again, from_early)


def test_a_step_outside_the_main_thread_runs_whole_without_touching_signals(rng):
    """Only the main thread can set a signal handler; elsewhere Ctrl-C cannot arrive anyway."""
    import threading

    params = {k: rng.standard_normal(4) for k in "ab"}
    grads = {k: rng.standard_normal(4) for k in params}
    expected = {k: v.copy() for k, v in params.items()}
    Adam(0.1).step(expected, grads)
    opt, errors = Adam(0.1), []

    def run():
        try:
            opt.step(params, grads)
        except BaseException as e:         # any error, reported below
            errors.append(e)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    assert errors == [] and opt.t == 1
    for k in params:
        np.testing.assert_array_equal(params[k], expected[k], err_msg=k)


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name == "nt", reason="POSIX signals")
def test_a_step_leaves_a_custom_ctrl_c_handler_in_place(rng):
    """A program that handles Ctrl-C itself (a notebook kernel, a GUI) keeps its handler."""
    params = {"w": rng.standard_normal(3)}

    def handler(signum, frame):
        pass

    previous = signal.signal(signal.SIGINT, handler)
    try:
        SGD(0.1).step(params, {"w": np.ones(3)})
        assert signal.getsignal(signal.SIGINT) is handler
    finally:
        signal.signal(signal.SIGINT, previous)
