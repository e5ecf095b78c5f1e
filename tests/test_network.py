import os

import numpy as np
import pytest

from nnscratch import losses
from nnscratch.activations import ReLU, Tanh
from nnscratch.data import make_spirals
from nnscratch.gradcheck import check_layer
from nnscratch.layers import Dense
from nnscratch.network import Sequential, load_params, mlp, save_params
from nnscratch.optim import SGD


def net_of(rng, sizes=(2, 16, 16, 3), activation="relu", dtype=np.float64):
    return mlp(list(sizes), rng=rng, activation=activation, dtype=dtype)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_whole_network_gradient_check(activation, rng):
    net = net_of(rng, (3, 5, 4, 2), activation)
    check_layer(net, rng.standard_normal((6, 3)), rng=rng).assert_ok()


def test_params_are_the_layers_arrays(rng):
    net = net_of(rng)
    assert list(net.params) == ["0.W", "0.b", "2.W", "2.b", "4.W", "4.b"]
    assert net.params["0.W"] is net[0].params["W"]
    assert net.n_params == 2 * 16 + 16 + 16 * 16 + 16 + 16 * 3 + 3
    net.forward(np.ones((2, 2)))
    net.backward(np.ones((2, 3)))
    assert net.grads.keys() == net.params.keys()


def train(seed, epochs=300):
    rng = np.random.default_rng(seed)
    X, y = make_spirals(150, rng)
    net = net_of(rng, (2, 32, 32, 3))
    opt = SGD(lr=0.5)
    history = []
    for _ in range(epochs):
        loss, dz = losses.softmax_cross_entropy(net.forward(X, training=True), y)
        net.backward(dz)
        opt.step(net.params, net.grads)
        history.append(loss)
    acc = float(np.mean(net.predict(X).argmax(axis=1) == y))
    return history, acc


def test_small_network_overfits_a_tiny_dataset():
    history, acc = train(0, epochs=1500)
    assert history[-1] < 0.1 * history[0]
    assert acc > 0.97


def test_same_seed_gives_bit_identical_training():
    h1, _ = train(3, epochs=50)
    h2, _ = train(3, epochs=50)
    h3, _ = train(4, epochs=50)
    assert h1 == h2
    assert h1 != h3


def test_save_and_load_roundtrip(tmp_path, rng):
    net = net_of(rng)
    path = tmp_path / "w.npz"
    save_params(net, path)
    other = net_of(np.random.default_rng(99))
    load_params(other, path)
    x = rng.standard_normal((4, 2))
    np.testing.assert_array_equal(net.predict(x), other.predict(x))
    with pytest.raises(ValueError, match="holds arrays"):
        load_params(net_of(rng, (2, 8, 3)), path)
    with pytest.raises(ValueError, match="expects"):
        load_params(net_of(rng, (2, 16, 16, 3), dtype=np.float32), path)


def batchnorm_net(seed: int) -> Sequential:
    from nnscratch.layers import BatchNorm
    rng = np.random.default_rng(seed)
    return Sequential([Sequential([Dense(2, 8, rng=rng), BatchNorm(8), ReLU()]),
                       Dense(8, 3, rng=rng)])


def test_buffers_are_collected_from_nested_layers(rng):
    net = batchnorm_net(0)
    assert sorted(net.buffers) == ["0.1.running_mean", "0.1.running_var"]
    assert net.buffers["0.1.running_mean"] is net.layers[0].layers[1].buffers["running_mean"]
    assert net_of(rng).buffers == {}


def test_save_and_load_keep_batchnorm_running_statistics(tmp_path, rng):
    net = batchnorm_net(0)
    for _ in range(5):   # training-mode passes move the running statistics away from 0 and 1
        net.forward(rng.standard_normal((16, 2)) * 3 + 1, training=True)
    path = tmp_path / "bn.npz"
    save_params(net, path)
    other = batchnorm_net(1)
    load_params(other, path)
    for k, v in net.buffers.items():
        np.testing.assert_array_equal(other.buffers[k], v)
    x = rng.standard_normal((4, 2))
    np.testing.assert_array_equal(net.predict(x), other.predict(x))   # evaluation mode


def test_load_refuses_a_file_without_the_buffers(tmp_path):
    net = batchnorm_net(0)
    path = tmp_path / "params_only.npz"
    np.savez(path, **net.params)   # what an older save_params wrote
    before = {k: v.copy() for k, v in net.params.items()}
    with pytest.raises(ValueError, match="running_mean"):
        load_params(net, path)
    for k, v in net.params.items():   # nothing was half loaded
        np.testing.assert_array_equal(v, before[k])


def test_load_refuses_a_later_array_of_another_shape_and_loads_nothing(tmp_path):
    # same keys; the first mismatch is the last layer's W: the arrays before it fit
    path = tmp_path / "w.npz"
    saved = net_of(np.random.default_rng(0), (2, 16, 16, 3))
    save_params(saved, path)
    net = net_of(np.random.default_rng(1), (2, 16, 16, 4))
    assert net.params.keys() == saved.params.keys()
    before = {k: v.copy() for k, v in net.params.items()}
    for k in ("0.W", "2.W"):  # loaded, they would show
        assert not np.array_equal(before[k], saved.params[k]), k
    with pytest.raises(ValueError, match=r"load_params: array '4\.W' in '.*w\.npz' has shape "
                                         r"\(16, 3\) and dtype float64; the model expects "
                                         r"\(16, 4\) and float64$"):
        load_params(net, path)
    for k, v in net.params.items():  # the arrays that fit were not loaded either
        np.testing.assert_array_equal(v, before[k], err_msg=k)


def test_rejects_things_that_are_not_layers():
    with pytest.raises(TypeError, match="item 1 must follow the layer protocol"):
        Sequential([ReLU(), "relu"])


@pytest.mark.parametrize(
    "activation, init_std",
    [
        ("relu", np.sqrt(2 / 400)),
        ("leaky_relu", np.sqrt(2 / 400)),
        ("tanh", np.sqrt(2 / 600)),
        ("sigmoid", np.sqrt(2 / 600)),
    ],
)
def test_mlp_builds_the_architecture_with_matching_init(activation, init_std, rng):
    net = mlp([400, 200, 200, 3], rng=rng, activation=activation)
    kinds = [type(layer).__name__ for layer in net.layers]
    act = {"relu": "ReLU", "leaky_relu": "LeakyReLU", "tanh": "Tanh",
           "sigmoid": "Sigmoid"}[activation]
    assert kinds == ["Dense", act, "Dense", act, "Dense"]
    assert [net[i].params["W"].shape for i in (0, 2, 4)] == [(400, 200), (200, 200), (200, 3)]
    # He for the ReLU family (2/n_in), Glorot for tanh and sigmoid (2/(n_in+n_out)): the
    # two differ by 22% here; sample std within 3%
    assert abs(net[0].params["W"].std() / init_std - 1) < 0.03
    check_layer(mlp([3, 4, 2], rng=rng, activation=activation), rng.standard_normal((5, 3)),
                rng=rng).assert_ok()


def test_mlp_rejects_bad_arguments(rng):
    with pytest.raises(ValueError, match="at least two positive integers"):
        mlp([3], rng=rng)
    with pytest.raises(ValueError, match="activation must be one of"):
        mlp([3, 2], rng=rng, activation="swish")
    net = mlp([2, 1], rng=rng, init=0.0)
    assert len(net) == 1 and not net[0].params["W"].any()


def test_backward_can_skip_the_input_gradient(rng):
    net = Sequential([Dense(4, 6, rng=rng), Tanh(), Dense(6, 3, rng=rng)])
    x, dout = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    net.forward(x)
    dx = net.backward(dout)
    full = {k: v.copy() for k, v in net.grads.items()}
    for g in net.grads.values():  # stale gradients cannot pass for fresh ones
        g[...] = np.nan
    net.forward(x)
    assert net.backward(dout, need_dx=False) is None
    for k, v in net.grads.items():
        np.testing.assert_array_equal(v, full[k])
    assert dx.shape == x.shape
    # a parameter-free first layer (not run backward at all: see the next test): the
    # Dense after it still fills its gradients, and nothing is returned
    net2 = Sequential([Tanh(), Dense(4, 3, rng=rng)])
    net2.forward(x)
    net2.backward(dout)
    full2 = {k: v.copy() for k, v in net2.grads.items()}
    for g in net2.grads.values():  # stale gradients cannot pass for fresh ones
        g[...] = np.nan
    net2.forward(x)
    assert net2.backward(dout, need_dx=False) is None
    for k, v in net2.grads.items():
        np.testing.assert_array_equal(v, full2[k], err_msg=k)
    assert Sequential([]).backward(dout) is dout


def test_backward_without_dx_stops_at_the_first_layer_with_parameters(rng):
    calls = []

    class Spy(Tanh):
        def backward(self, dout, need_dx=True):
            calls.append(need_dx)
            return super().backward(dout, need_dx=need_dx)

    class DenseSpy(Dense):
        def backward(self, dout, need_dx=True):
            calls.append(("dense", need_dx))
            return super().backward(dout, need_dx=need_dx)

    net = Sequential(
        [Spy(), DenseSpy(4, 6, rng=rng), Spy(), DenseSpy(6, 3, rng=rng)]
    )
    x, dout = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    net.forward(x)
    dx = net.backward(dout)
    full = {k: v.copy() for k, v in net.grads.items()}
    assert calls == [("dense", True), True, ("dense", True), True]
    calls.clear()
    for g in net.grads.values():  # stale gradients cannot pass for fresh ones
        g[...] = np.nan
    net.forward(x)
    assert net.backward(dout, need_dx=False) is None
    # the leading Tanh is not run backward; the first Dense skips its dx
    assert calls == [("dense", True), True, ("dense", False)]
    for k, v in net.grads.items():
        np.testing.assert_array_equal(v, full[k])
    assert dx.shape == x.shape
    # no layer with parameters: nothing runs backward
    calls.clear()
    free = Sequential([Spy(), Spy()])
    free.forward(x)
    assert free.backward(rng.standard_normal((5, 4)), need_dx=False) is None
    assert calls == []


# ------------------------------------------------ blocks and sequences (the protocol)


def test_residual_block_is_a_layer_with_nested_keys_and_correct_gradients(rng):
    from nnscratch.network import Residual
    block = Residual(Sequential([Dense(4, 4, rng=rng), Tanh()]))
    net = Sequential([Dense(3, 4, rng=rng), block, Dense(4, 2, rng=rng)])
    assert sorted(block.params) == ["0.0.W", "0.0.b"]
    assert "1.0.0.W" in net.params and net.params["1.0.0.W"] is block.body.layers[0].params["W"]
    assert net.buffers == {}
    check_layer(net, rng.standard_normal((5, 3)), rng=rng).assert_ok()
    with pytest.raises(ValueError, match=r"Residual.forward: the body maps shape \(5, 4\) to \(5, 2\)"):
        Residual(Dense(4, 2, rng=rng)).forward(rng.standard_normal((5, 4)))


def test_residual_backward_without_dx_returns_none_and_the_same_gradients(rng):
    from nnscratch.network import Residual

    calls = []

    class DenseSpy(Dense):
        def backward(self, dout, need_dx=True):
            calls.append(need_dx)
            return super().backward(dout, need_dx=need_dx)

    net = Sequential(
        [Residual(Sequential([DenseSpy(4, 4, rng=rng), Tanh()])), Dense(4, 3, rng=rng)]
    )
    x, dout = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    net.forward(x)
    assert net.backward(dout).shape == x.shape and calls == [True]
    full = {k: v.copy() for k, v in net.grads.items()}
    for g in net.grads.values():  # stale gradients cannot pass for fresh ones
        g[...] = np.nan
    calls.clear()
    net.forward(x)
    assert net.backward(dout, need_dx=False) is None
    assert calls == [False]  # the block passes need_dx on: its body's Dense skips dx
    assert sorted(net.grads) == sorted(full) == ["0.0.0.W", "0.0.0.b", "1.W", "1.b"]
    for k, v in net.grads.items():
        np.testing.assert_array_equal(v, full[k], err_msg=k)
    # the block itself returns None too (a Sequential drops what its first layer returns)
    assert net[0].backward(rng.standard_normal((5, 4)), need_dx=False) is None


def test_dense_maps_sequences_over_their_last_axis(rng):
    layer = Dense(4, 3, rng=rng)
    x = rng.standard_normal((2, 5, 4))                       # (N, T, D)
    out = layer.forward(x)
    assert out.shape == (2, 5, 3)
    np.testing.assert_allclose(out[1, 2], x[1, 2] @ layer.params["W"] + layer.params["b"])
    check_layer(Sequential([layer, Tanh()]), x, rng=rng).assert_ok()


# -------------------------------------------------------- nothing lost on disk


def _files(directory):
    return sorted(p.name for p in directory.iterdir())


def _fault_after_some_bytes(exc):
    """A writer that starts the archive, then fails as a full disk or an interrupt would."""
    def write(file, state):
        file.write(b"PK\x03\x04 half an archive")
        raise exc
    return write


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_save_that_fails_half_way_keeps_the_old_file_and_leaves_no_temporary(
        exc, tmp_path, rng, monkeypatch):
    import nnscratch.network as network
    net = net_of(rng)
    path = tmp_path / "w.npz"
    save_params(net, path)
    old_bytes = path.read_bytes()
    for v in net.params.values():
        v += 1.0                                   # new weights that the failed save loses
    monkeypatch.setattr(network, "_write_npz", _fault_after_some_bytes(exc))
    with pytest.raises(type(exc)) as info:
        save_params(net, path)
    if isinstance(exc, OSError):
        assert "w.npz" in str(info.value) and "No space left" in str(info.value)
        assert "previous file there is unchanged" in str(info.value)
    assert path.read_bytes() == old_bytes
    assert _files(tmp_path) == ["w.npz"]
    monkeypatch.undo()
    load_params(net_of(np.random.default_rng(1)), path)      # still a good weights file


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="no /proc to count open files")
def test_a_failure_to_set_the_permissions_closes_the_temporary_file(tmp_path, rng, monkeypatch):
    """The temporary file's descriptor is closed whatever fails, permissions included."""
    import nnscratch._files as files

    def refuse(fd, path):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(files, "_give_mode", refuse)
    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(OSError, match=r"save_params: could not write .*w\.npz.*Permission denied"):
        save_params(net_of(rng), tmp_path / "w.npz")
    assert len(os.listdir("/proc/self/fd")) == before
    assert _files(tmp_path) == []


def test_save_writes_exactly_the_name_given(tmp_path, rng):
    path = tmp_path / "model.weights.npz"
    save_params(net_of(rng), str(path))
    assert _files(tmp_path) == ["model.weights.npz"]


@pytest.mark.parametrize("name", ["w.weights", "w", "w.NPZ", "w.npz.tmp"])
def test_save_and_load_refuse_a_name_without_the_npz_suffix(name, tmp_path, rng):
    with pytest.raises(ValueError, match=rf"save_params: a weights file name must end in \.npz, "
                                         rf"got '.*{name}'"):
        save_params(net_of(rng), tmp_path / name)
    with pytest.raises(ValueError, match=r"load_params: a weights file name must end in \.npz"):
        load_params(net_of(rng), tmp_path / name)
    assert _files(tmp_path) == []


def test_save_into_a_folder_that_cannot_exist_names_it(tmp_path, rng):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    with pytest.raises(OSError, match=r"save_params: cannot write in '.*file.txt'"):
        save_params(net_of(rng), blocker / "w.npz")
    assert _files(tmp_path) == ["file.txt"]


def _corrupt_files(tmp_path, net):
    good = tmp_path / "good.npz"
    save_params(net, good)
    data = good.read_bytes()
    files = {
        "random bytes": b"\x00\x01 this is not an archive" * 10,
        "empty": b"",
        "truncated archive": data[: len(data) // 2],
        "text": b"W = [[1, 2], [3, 4]]\n",
    }
    paths = {}
    for what, content in files.items():
        paths[what] = tmp_path / f"{what.replace(' ', '_')}.npz"
        paths[what].write_bytes(content)
    paths["pickled objects"] = tmp_path / "objects.npz"
    np.savez(paths["pickled objects"], **{k: np.array([v], dtype=object) for k, v in net.params.items()})
    paths["a single .npy array"] = tmp_path / "single.npz"
    with open(paths["a single .npy array"], "wb") as f:
        np.save(f, np.zeros(3))
    return paths


def test_load_refuses_corrupt_files_naming_the_path_never_suggesting_pickle(tmp_path, rng):
    net = net_of(rng)
    before = {k: v.copy() for k, v in net.params.items()}
    for what, path in _corrupt_files(tmp_path, net_of(np.random.default_rng(7))).items():
        with pytest.raises(ValueError) as info:
            load_params(net, path)
        message = str(info.value)
        assert str(path) in message and "not a weights file written by save_params" in message, what
        assert "pickle" not in message.lower(), what
        for k, v in net.params.items():                       # nothing half loaded
            np.testing.assert_array_equal(v, before[k])


def test_load_of_a_missing_file_names_it(tmp_path, rng):
    with pytest.raises(FileNotFoundError, match=r"load_params: no weights file at '.*absent.npz'"):
        load_params(net_of(rng), tmp_path / "absent.npz")


def test_predict_handles_an_empty_batch_and_refuses_a_zero_batch_size(rng):
    net = net_of(rng)
    assert net.predict(np.zeros((0, 2))).shape == (0, 3)
    with pytest.raises(ValueError, match="Sequential.predict: batch_size must be a positive integer, got 0"):
        net.predict(np.zeros((4, 2)), batch_size=0)


def test_composites_show_their_parts_arrays_and_refuse_assignment():
    # Sequential, VAE and TextClassifier share layers.base.Composite: views keyed by
    # part name, always current, never assignable (the parts own the arrays).
    from nnscratch import generative, sentiment

    rng = np.random.default_rng(0)
    net = Sequential([Dense(3, 2, rng=rng), Tanh(), Dense(2, 1, rng=rng)])
    assert list(net.params) == ["0.W", "0.b", "2.W", "2.b"]
    assert net.params["2.W"] is net.layers[2].params["W"]
    net.forward(np.ones((4, 3)), training=True)
    net.backward(np.ones((4, 1)))
    assert net.grads["0.W"] is net.layers[0].grads["W"]
    vae = generative.vae((6, 4, 2), rng=rng, dtype=np.float64)
    assert set(vae.params) == {f"{p}.{k}" for p, m in vae.parts() for k in m.params}
    assert {p for p, _ in vae.parts()} == {"encoder", "decoder"}
    text = sentiment.text_classifier(12, 4, rng=rng, lstm=3, dropout=0.5)
    assert [p for p, _ in text.parts()] == ["embed", "encoder", "pool", "dropout", "head"]
    assert text.params["encoder.Wx"] is text.encoder.params["Wx"] and text.buffers == {}
    for model, name in ((net, "Sequential"), (vae, "VAE"), (text, "TextClassifier")):
        for attr in ("params", "grads", "buffers"):
            with pytest.raises(AttributeError, match=f"{name}.{attr} is assembled"):
                setattr(model, attr, {"W": np.zeros(1)})
            setattr(model, attr, {})  # what Layer.__init__ does: allowed


# ---------------------------------------------------------------- clone and replace_head


def test_clone_gives_same_outputs_and_shares_no_array(rng):
    from nnscratch.layers import BatchNorm, Dropout
    from nnscratch.network import clone

    net = Sequential(
        [Dense(4, 8, rng=rng), BatchNorm(8), ReLU(), Dropout(0.5, rng=rng), Dense(8, 3, rng=rng)]
    )
    x = rng.standard_normal((5, 4))
    net.forward(x, training=True)  # moves the running statistics away from their start
    copy = clone(net)
    np.testing.assert_array_equal(copy.predict(x), net.predict(x))
    # the same dropout masks too: the generators' states are copied
    np.testing.assert_array_equal(copy.forward(x, training=True), net.forward(x, training=True))
    theirs = {**net.params, **net.buffers}
    for k, v in {**copy.params, **copy.buffers}.items():
        assert not np.shares_memory(v, theirs[k]), k
    before = net.predict(x)
    SGD(lr=1.0).step(copy.params, {k: np.ones_like(v) for k, v in copy.params.items()})
    np.testing.assert_array_equal(net.predict(x), before)  # training the copy leaves net alone
    assert not np.allclose(copy.predict(x), before)
    with pytest.raises(TypeError, match="clone: expected a Layer.*dict"):
        clone({"W": np.ones(2)})


def test_replace_head_keeps_the_body_and_fits_a_new_head(rng):
    from nnscratch.network import clone, replace_head

    net = net_of(rng, (4, 6, 5, 3))  # Dense, ReLU, Dense, ReLU, Dense
    x = rng.standard_normal((7, 4))
    new = replace_head(clone(net), Dense(5, 2, rng=rng))
    assert len(new) == len(net) and new.predict(x).shape == (7, 2)
    # the body computes what the pretrained body computed
    np.testing.assert_array_equal(Sequential(new.layers[:4]).predict(x),
                                  Sequential(net.layers[:4]).predict(x))
    check_layer(new, x, rng=rng).assert_ok()  # gradients flow through body and new head
    # without clone the kept layers are the same objects
    shared = replace_head(net, [Dense(5, 8, rng=rng), ReLU(), Dense(8, 2, rng=rng)])
    assert shared[0] is net[0] and len(shared) == 7
    assert replace_head(net, Dense(6, 2, rng=rng), n_old=3).predict(x).shape == (7, 2)


def test_replace_head_refuses_bad_input(rng):
    from nnscratch.network import replace_head

    net = net_of(rng, (4, 6, 5, 3))
    with pytest.raises(ValueError, match="old head takes 5 features.*new one 6"):
        replace_head(net, Dense(6, 2, rng=rng))
    with pytest.raises(ValueError, match="n_old must be less than the model's 5 layers"):
        replace_head(net, Dense(4, 2, rng=rng), n_old=5)
    with pytest.raises(ValueError, match="n_old"):
        replace_head(net, Dense(5, 2, rng=rng), n_old=0)
    with pytest.raises(ValueError, match="no layers"):
        replace_head(net, [])
    with pytest.raises(TypeError, match="expected a Sequential"):
        replace_head(net[0], Dense(5, 2, rng=rng))
    with pytest.raises(TypeError, match="layer protocol"):
        replace_head(net, ["not a layer"])
    with pytest.raises(TypeError, match="replace_head: n_old must be a positive integer, got 1.0"):
        replace_head(net, Dense(5, 2, rng=rng), n_old=1.0)


@pytest.mark.skipif(not hasattr(os, "fchmod"), reason="no POSIX permissions here")
def test_a_saved_file_gets_the_usual_permissions_and_keeps_a_replaced_files(tmp_path, rng):
    # mkstemp makes files private to their owner; a saved model is an ordinary file
    model = mlp([4, 3], rng=rng)
    old = os.umask(0o022)
    try:
        save_params(model, tmp_path / "new.npz")
        assert (tmp_path / "new.npz").stat().st_mode & 0o777 == 0o644
        shared = tmp_path / "shared.npz"
        shared.write_bytes(b"old")
        shared.chmod(0o664)
        save_params(model, shared)
        assert shared.stat().st_mode & 0o777 == 0o664
    finally:
        os.umask(old)


def test_a_layer_or_parameter_in_two_places_is_refused():
    """Used twice, a layer's second backward overwrites the first's gradients (a
    gradient check of such a network fails) and an optimizer steps its arrays twice."""
    from nnscratch.activations import Tanh
    from nnscratch.layers import Dense as D
    from nnscratch.network import clone

    rng = np.random.default_rng(0)
    d, t = D(3, 3, rng=rng), Tanh()
    with pytest.raises(ValueError, match="Sequential: items 0 and 2 share one Dense; each place needs a layer of its own"):
        Sequential([d, Tanh(), d])
    with pytest.raises(ValueError, match="items 0 and 2 share one Tanh"):
        Sequential([t, D(3, 3, rng=rng), t])
    with pytest.raises(ValueError, match="items 1 and 2 share one Dense"):  # inside a block
        Sequential([Tanh(), Sequential([d, Tanh()]), d])
    twin = D(3, 3, rng=rng)
    twin.params["W"] = d.params["W"]  # one array in two layers
    with pytest.raises(ValueError, match="items 0 and 1 share one parameter 'W' of Dense"):
        Sequential([d, twin])
    Sequential([d, Tanh(), clone(d)])  # a copy is a layer of its own


# ---------------------------------------------------------------- a copy leaves the forward state


def _every_layer_case():
    """name -> (make(rng), input(n, rng)) for every concrete layer class of nnscratch."""
    from nnscratch import generative as gen
    from nnscratch.activations import GELU, LeakyReLU, Sigmoid, Softmax
    from nnscratch.layers import (LSTM, RNN, AttentionPooling, AvgPool2D, BatchNorm, BatchNorm2D,
                                  Conv2D, ConvTranspose2D, Dropout, Embedding, EmbeddingBag,
                                  Flatten, LayerNorm, MaxOverTime, MaxPool2D, MeanOverTime,
                                  MultiHeadAttention, PositionEmbedding, SinusoidalPositions,
                                  Unflatten)
    from nnscratch.network import Residual
    from nnscratch.sentiment import BagOfNgrams, text_classifier

    def normal(*shape):
        return lambda n, r: r.standard_normal((n, *shape))

    def ids(n, r):
        return r.integers(1, 10, (n, 5))

    return {
        "Dense": (lambda r: Dense(4, 3, rng=r), normal(4)),
        "Conv2D": (lambda r: Conv2D(2, 3, 3, padding=1, rng=r), normal(2, 6, 6)),
        "ConvTranspose2D": (lambda r: ConvTranspose2D(2, 3, 4, 2, 1, rng=r), normal(2, 3, 3)),
        "MaxPool2D": (lambda r: MaxPool2D(2), normal(2, 6, 6)),
        "AvgPool2D": (lambda r: AvgPool2D(2), normal(2, 6, 6)),
        "Flatten": (lambda r: Flatten(), normal(2, 3, 3)),
        "Unflatten": (lambda r: Unflatten((2, 2)), normal(4)),
        "BatchNorm": (lambda r: BatchNorm(4), normal(4)),
        "BatchNorm2D": (lambda r: BatchNorm2D(2), normal(2, 3, 3)),
        "LayerNorm": (lambda r: LayerNorm(4), normal(4)),
        "Dropout": (lambda r: Dropout(0.5, rng=r), normal(4)),
        "ReLU": (lambda r: ReLU(), normal(4)),
        "LeakyReLU": (lambda r: LeakyReLU(0.1), normal(4)),
        "Sigmoid": (lambda r: Sigmoid(), normal(4)),
        "Tanh": (lambda r: Tanh(), normal(4)),
        "Softmax": (lambda r: Softmax(), normal(4)),
        "GELU": (lambda r: GELU(), normal(4)),
        "Sequential": (lambda r: Sequential([Dense(4, 6, rng=r), ReLU(), Dense(6, 3, rng=r)]),
                       normal(4)),
        "Residual": (lambda r: Residual(Sequential([Dense(4, 4, rng=r), Tanh()])), normal(4)),
        "RNN": (lambda r: RNN(3, 4, rng=r), normal(6, 3)),
        "LSTM": (lambda r: LSTM(3, 4, rng=r), normal(6, 3)),
        "MultiHeadAttention": (lambda r: MultiHeadAttention(8, 2, rng=r, causal=True),
                               normal(5, 8)),
        "Embedding": (lambda r: Embedding(10, 4, rng=r), ids),
        "EmbeddingBag": (lambda r: EmbeddingBag(10, 4, rng=r), ids),
        "MeanOverTime": (lambda r: MeanOverTime(), normal(5, 4)),
        "MaxOverTime": (lambda r: MaxOverTime(), normal(5, 4)),
        "AttentionPooling": (lambda r: AttentionPooling(4), normal(5, 4)),
        "PositionEmbedding": (lambda r: PositionEmbedding(8, 4, rng=r), normal(5, 4)),
        "SinusoidalPositions": (lambda r: SinusoidalPositions(8, 4), normal(5, 4)),
        "Reparameterize": (lambda r: gen.Reparameterize(r), normal(4)),
        "VAE": (lambda r: gen.vae((6, 5, 2), rng=r, dtype=np.float64),
                lambda n, r: r.random((n, 6))),
        "BagOfNgrams": (lambda r: BagOfNgrams(10), ids),
        "TextClassifier": (lambda r: text_classifier(10, 4, rng=r, lstm=3, dropout=0.5,
                                                     dtype=np.float64), ids),
    }


LAYER_CASES = _every_layer_case()


def _array_bytes(obj, seen=None) -> int:
    """Bytes of every distinct array reachable from obj through layers and containers."""
    from nnscratch.layers.base import Layer

    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if isinstance(obj, Layer):
        obj = vars(obj)
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_array_bytes(v, seen) for v in obj)
    return 0


def test_the_layer_cases_cover_every_layer_class():
    import importlib
    import pkgutil

    import nnscratch
    from nnscratch.layers.base import Composite, Layer

    for module in pkgutil.walk_packages(nnscratch.__path__, "nnscratch."):
        if module.name != "nnscratch.cli":
            importlib.import_module(module.name)

    def below(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from below(sub)

    classes = {c.__name__ for c in below(Layer)
               if c.__module__.startswith("nnscratch.") and not c.__name__.startswith("_")
               and c is not Composite}
    assert classes == set(LAYER_CASES)


@pytest.mark.parametrize("name", LAYER_CASES)
def test_a_copy_leaves_the_last_forward_state_behind(name):
    from nnscratch.network import clone

    make, inputs = LAYER_CASES[name]
    sizes = []
    for n in (3, 200):  # after a small batch and a large one, a copy is the same size
        layer = make(np.random.default_rng(0))
        out = layer.forward(inputs(n, np.random.default_rng(1)), training=True)
        layer.backward(np.ones_like(out))
        copy = clone(layer)
        sizes.append(_array_bytes(copy))
        x = inputs(4, np.random.default_rng(2))  # and computes what the layer computes
        np.testing.assert_array_equal(copy.forward(x), layer.forward(x))
    assert sizes[0] == sizes[1], f"{name}: the copy keeps arrays of the last batch's size"
    if name != "Unflatten":  # the one layer whose backward needs nothing from forward
        layer.forward(inputs(3, np.random.default_rng(1)), training=True)
        with pytest.raises(RuntimeError, match="backward called before forward"):
            clone(layer).backward(np.ones_like(out[:3]))


def bn_net(rng):
    """Dense -> BatchNorm -> ReLU -> Dropout -> conv block with BatchNorm2D."""
    from nnscratch.layers import BatchNorm, BatchNorm2D, Conv2D, Dropout
    from nnscratch.layers import Flatten, Unflatten

    return Sequential(
        [
            Dense(3, 2 * 4 * 4, rng=rng),
            BatchNorm(2 * 4 * 4),
            ReLU(),
            Dropout(0.5, rng=np.random.default_rng(1)),  # its own
            Unflatten((2, 4, 4)),
            Conv2D(2, 3, 3, rng=rng),  # (N, 3, 2, 2)
            BatchNorm2D(3),
            Flatten(),
        ]
    )


def test_refresh_batchnorm_sets_each_layers_batch_statistics(rng):
    from nnscratch.network import refresh_batchnorm

    net = bn_net(rng)
    for k, v in net.buffers.items():  # stale statistics, one of them NaN
        v[...] = rng.standard_normal(v.shape) + 5
    net.buffers["1.running_var"][0] = np.nan
    params = {k: v.copy() for k, v in net.params.items()}
    rng_state = net[3].rng.bit_generator.state
    x = rng.standard_normal((50, 3))
    assert refresh_batchnorm(net, x) is net
    # what the first BatchNorm receives in a training pass (the second
    # sees a dropout mask drawn by the copy: only its shape is checked)
    h = x @ params["0.W"] + params["0.b"]
    assert np.allclose(net.buffers["1.running_mean"], h.mean(axis=0))
    assert np.allclose(net.buffers["1.running_var"], h.var(axis=0, ddof=1))
    mean2, var2 = net.buffers["6.running_mean"], net.buffers["6.running_var"]
    assert mean2.shape == var2.shape == (3,)
    assert np.all(np.isfinite(mean2)) and np.all(var2 > 0)
    # nothing else moved: parameters, momentum, the dropout generator
    for k, v in net.params.items():
        assert np.array_equal(v, params[k]), k
    assert net[1].momentum == net[6].momentum == 0.1
    assert net[3].rng.bit_generator.state == rng_state


def test_refresh_batchnorm_statistics_of_a_conv_layer(rng):
    from nnscratch.layers import BatchNorm2D, Conv2D
    from nnscratch.network import refresh_batchnorm

    conv = Conv2D(1, 4, 3, rng=rng)
    net = Sequential([conv, BatchNorm2D(4)])
    x = rng.standard_normal((7, 1, 6, 6))
    refresh_batchnorm(net, x)
    z = conv.forward(x)  # (7, 4, 4, 4): per channel over N, H and W
    per_channel = z.transpose(1, 0, 2, 3).reshape(4, -1)
    assert np.allclose(net.buffers["1.running_mean"], per_channel.mean(1))
    assert np.allclose(
        net.buffers["1.running_var"], per_channel.var(1, ddof=1)
    )
    # evaluation now normalizes x's own batch to mean 0, variance near 1: the running
    # variance is the unbiased one, so the batch's own variance comes out (n-1)/n
    out = net.forward(x).transpose(1, 0, 2, 3).reshape(4, -1)
    n = per_channel.shape[1]  # 7 * 4 * 4 values per channel
    assert np.allclose(out.mean(1), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(1), (n - 1) / n, rtol=1e-3)


def test_refresh_batchnorm_refuses_bad_input_and_keeps_the_model(rng):
    from nnscratch.network import refresh_batchnorm

    with pytest.raises(TypeError, match="expected a Layer"):
        refresh_batchnorm("net", np.ones((4, 3)))
    with pytest.raises(ValueError, match="BatchNorm layer"):
        refresh_batchnorm(net_of(rng), np.ones((4, 2)))
    net = bn_net(rng)
    kept = {k: v.copy() for k, v in net.buffers.items()}
    with pytest.raises(
        ValueError,
        match=r"Dense.forward: x must have 3 features on its last axis.*got \(5, 4\)",
    ):
        refresh_batchnorm(net, rng.standard_normal((5, 4)))  # 4 != 3 inputs
    with pytest.raises(ValueError, match="at least 2"):
        refresh_batchnorm(net, rng.standard_normal((1, 3)))
    for k, v in net.buffers.items():
        assert np.array_equal(v, kept[k]), k


def test_batchnorm_refreshed_holds_the_statistics_for_the_block_only(rng):
    from nnscratch.network import (
        batchnorm_refreshed,
        clone,
        refresh_batchnorm,
    )

    net = bn_net(rng)
    for k, v in net.buffers.items():
        v[...] = rng.standard_normal(v.shape) + 5
    before = {k: v.copy() for k, v in net.buffers.items()}
    x = rng.standard_normal((50, 3))
    refreshed = refresh_batchnorm(clone(net), x).buffers
    with batchnorm_refreshed(net, x) as inside:
        assert inside is net
        for k, v in net.buffers.items():
            assert np.array_equal(v, refreshed[k]), k
    for k, v in net.buffers.items():
        assert np.array_equal(v, before[k]), k
    # restored when the block raises, too
    with pytest.raises(RuntimeError, match="inside"):
        with batchnorm_refreshed(net, x):
            assert not np.array_equal(
                net.buffers["1.running_mean"], before["1.running_mean"]
            )
            raise RuntimeError("inside")
    for k, v in net.buffers.items():
        assert np.array_equal(v, before[k]), k
    # bad input raises on entering, before the block runs
    ran = []
    with pytest.raises(ValueError, match="at least 2"):
        with batchnorm_refreshed(net, rng.standard_normal((1, 3))):
            ran.append(True)
    assert not ran
    for k, v in net.buffers.items():
        assert np.array_equal(v, before[k]), k


def test_a_name_that_is_both_a_parameter_and_a_buffer_is_refused_before_saving(tmp_path):
    """Merged into one dict the buffer would silently replace the parameter in the file."""
    from nnscratch.layers.base import Layer
    from nnscratch.network import model_state

    class Scaled(Layer):
        def __init__(self):
            super().__init__()
            self.params = {"scale": np.ones(3), "shift": np.zeros(3)}
            self.grads = {k: np.zeros(3) for k in self.params}
            self.buffers = {"scale": np.full(3, 2.0), "count": np.zeros(1)}

    net = Sequential([Dense(3, 3, rng=np.random.default_rng(0)), Scaled()])
    message = (r"model_state: a name must be a parameter or a buffer, not both; "
               r"got \['1.scale'\] as both$")
    with pytest.raises(ValueError, match=message):
        model_state(net)
    path = tmp_path / "w.npz"
    with pytest.raises(ValueError, match=message):
        save_params(net, path)
    assert list(tmp_path.iterdir()) == []            # no file, no temporary one
    net.layers[1].buffers = {"count": np.zeros(1)}
    assert sorted(model_state(net)) == ["0.W", "0.b", "1.count", "1.scale", "1.shift"]


def test_refresh_batchnorm_reaches_a_batchnorm_inside_a_residual_block(rng):
    from nnscratch.layers import BatchNorm
    from nnscratch.network import Residual, refresh_batchnorm

    # one BatchNorm outside the block, one inside it
    net = Sequential(
        [
            Dense(3, 3, rng=rng),
            BatchNorm(3),
            Residual(Sequential([Dense(3, 3, rng=rng), BatchNorm(3)])),
        ]
    )
    assert set(net.buffers) >= {"2.0.1.running_mean", "2.0.1.running_var"}
    x = rng.standard_normal((40, 3))
    refresh_batchnorm(net, x)
    # the inner BatchNorm's statistics are those of what reaches it in a
    # training pass, where the outer BatchNorm uses the batch's statistics
    h = net[1].forward(net[0].forward(x), training=True)
    inner_in = h @ net.params["2.0.0.W"] + net.params["2.0.0.b"]
    assert np.allclose(net.buffers["2.0.1.running_mean"], inner_in.mean(axis=0))
    assert np.allclose(net.buffers["2.0.1.running_var"], inner_in.var(axis=0, ddof=1))


def test_residual_refuses_a_body_that_is_not_a_layer():
    from nnscratch.network import Residual

    with pytest.raises(TypeError, match="Residual: the body must follow the layer protocol .*got list"):
        Residual([Dense(2, 2, rng=np.random.default_rng(0))])


def test_a_layer_used_inside_a_residual_block_and_outside_it_is_refused(rng):
    from nnscratch.network import Residual

    dense = Dense(3, 3, rng=rng)
    with pytest.raises(
        ValueError,
        match="Sequential: items 0 and 1 share one .*each place needs a layer of its own",
    ):
        Sequential([dense, Residual(dense)])
