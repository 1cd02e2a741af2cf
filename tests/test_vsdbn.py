"""VS-DBN: CD-1 against its formulas and autograd, L1, planted recovery, seeds, resume."""

import numpy as np
import pytest
import torch

from anbn_utils.bns import VSDBN, apply_update, cd1_gradients, cd1_step, free_energy
from anbn_utils.errors import DataError
from anbn_utils.recovery import matched_correlation
from anbn_utils.synthetic import planted_mixture


def _params(n_vis=7, n_hid=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(5, n_vis, generator=g, dtype=torch.float64),
            0.3 * torch.randn(n_vis, n_hid, generator=g, dtype=torch.float64),
            0.1 * torch.randn(n_vis, generator=g, dtype=torch.float64),
            0.1 * torch.randn(n_hid, generator=g, dtype=torch.float64))


def test_cd1_statistics_equal_their_formulas():
    X, W, b, c = _params()
    dW, db, dc, err = cd1_gradients(X, W, b, c, noise_std=0.01,
                                    generator=torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)  # the same draws, in the documented order
    h0p = torch.sigmoid(X @ W + c)
    h0 = (torch.rand(h0p.shape, generator=g, dtype=X.dtype) < h0p).double()
    v1 = h0 @ W.T + b + 0.01 * torch.randn(X.shape, generator=g, dtype=X.dtype)
    h1 = torch.sigmoid(v1 @ W + c)
    torch.testing.assert_close(dW, (X.T @ h0 - v1.T @ h1) / 5)
    torch.testing.assert_close(db, (X - v1).mean(0))
    torch.testing.assert_close(dc, (h0 - h1).mean(0))
    torch.testing.assert_close(err, ((X - v1) ** 2).mean())


def test_positive_phase_with_probabilities_is_minus_the_free_energy_gradient():
    X, W, b, c = _params()
    W = W.clone().requires_grad_(True)
    free_energy(X, W, b, c).mean().backward()
    positive = X.T @ torch.sigmoid(X @ W.detach() + c) / len(X)
    torch.testing.assert_close(positive, -W.grad)
    # and with no sampling noise, CD-1 is that positive term minus the negative one
    dW, *_ = cd1_gradients(X, W.detach(), b, c, noise_std=0.0, positive_phase="prob")
    v1 = torch.sigmoid(X @ W.detach() + c) @ W.detach().T + b
    torch.testing.assert_close(dW, positive - v1.T @ torch.sigmoid(v1 @ W.detach() + c) / len(X))


def test_l1_shrinks_weights_by_lr_times_lambda_and_spares_biases():
    _, W, b, c = _params()
    W += 0.1 * torch.sign(W)  # every |w| > lr * l1
    W0, b0, c0 = W.clone(), b.clone(), c.clone()
    zero = torch.zeros_like
    apply_update(W, b, c, zero(W), zero(b), zero(c), lr=1e-2, l1=0.5)
    torch.testing.assert_close(W.abs(), W0.abs() - 5e-3)
    assert torch.equal(torch.sign(W), torch.sign(W0))
    assert torch.equal(b, b0) and torch.equal(c, c0)


@pytest.mark.parametrize("positive_phase", ["sample", "prob"])
def test_fused_step_equals_gradients_then_update(positive_phase):
    X, W, b, c = _params(n_vis=30, n_hid=6)
    ref = [t.clone() for t in (W, b, c)]
    dW, db, dc, err = cd1_gradients(X, *ref, noise_std=0.01, positive_phase=positive_phase,
                                    generator=torch.Generator().manual_seed(5))
    apply_update(*ref, dW, db, dc, lr=0.05, l1=0.02)
    got = cd1_step(X, W, b, c, lr=0.05, l1=0.02, noise_std=0.01, positive_phase=positive_phase,
                   generator=torch.Generator().manual_seed(5))
    for a, r in zip((W, b, c, got), (*ref, err)):
        torch.testing.assert_close(a, r, rtol=1e-12, atol=1e-14)


def _planted(T=1500):
    """The planted mixture that the Methods sweep (benchmarks/sweep_vsdbn_canica.py) uses."""
    return planted_mixture(n_samples=T)


_matched = matched_correlation


@pytest.fixture(scope="module")
def planted_fit():
    X, S, A, shape = _planted()
    model = VSDBN(n_hidden=(32, 16, 8), n_epochs=30, progress=False).fit(X)
    return model, X, S, A, shape


def test_planted_networks_are_recovered(planted_fit):
    """Bounds measured on this fixture (layer 1: 0.83, layer 3: 0.62, time courses 0.60),
    with a margin; CanICA on the same data reaches 0.98 (see the next test)."""
    model, X, S, A, _ = planted_fit
    assert model.maps(1).shape == (X.shape[1], 32) and model.maps().shape == (X.shape[1], 8)
    assert _matched(model.maps(1), S) > 0.7
    assert _matched(model.maps(3), S) > 0.5
    assert _matched(model.transform(X), A.T) > 0.5
    assert model.history_[0][-1] < model.history_[0][0]  # layer 1 learns


def test_canica_on_the_same_data_for_reference(planted_fit):
    import nibabel as nib
    from nilearn.decomposition import CanICA

    model, X, S, _, shape = planted_fit
    mask = nib.Nifti1Image(np.ones(shape, np.uint8), np.eye(4))
    imgs = [nib.Nifti1Image(X[i:i + 300].T.reshape(shape + (300,)), np.eye(4))
            for i in range(0, len(X), 300)]
    ica = CanICA(n_components=8, mask=mask, random_state=0, smoothing_fwhm=None,
                 standardize=False, detrend=False).fit(imgs)
    canica = _matched(ica.components_.T, S)
    vsdbn = _matched(model.maps(3), S)
    assert canica > 0.95
    # recorded, not hidden: the paper's VS-DBN settings trail ICA on linear mixtures
    assert canica - vsdbn < 0.5


def test_same_seed_same_result_and_resume(tmp_path):
    X, *_ = _planted(T=200)
    kw = {"n_hidden": (8, 4, 2), "n_epochs": 3, "progress": False}
    a = VSDBN(**kw).fit(X)
    b = VSDBN(**kw).fit([X[:120], X[120:]])  # parts are pooled without a copy
    for wa, wb in zip(a.weights_, b.weights_):
        np.testing.assert_array_equal(wa, wb)
    assert not np.array_equal(VSDBN(**kw, random_state=1).fit(X).weights_[0], a.weights_[0])
    # a fit interrupted inside layer 2 resumes from its checkpoint and ends where an
    # uninterrupted one does (weights, biases and random streams restored)
    class Interrupted(VSDBN):
        calls = 0

        def _checkpoint(self, *args):
            super()._checkpoint(*args)
            Interrupted.calls += 1
            if Interrupted.calls == 4:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Interrupted(**kw, checkpoint_dir=tmp_path).fit(X)
    state = torch.load(tmp_path / "vsdbn_checkpoint.pt", weights_only=False)
    assert len(state["done"]) == 1 and state["current"]["epoch"] == 0
    resumed = VSDBN(**kw, checkpoint_dir=tmp_path).fit(X)
    for wa, wb in zip(a.weights_, resumed.weights_):
        np.testing.assert_array_equal(wa, wb)
    assert resumed.history_ == a.history_


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cpu_and_gpu_fits_agree():
    """Same seed on both devices: the initial weights are drawn on the CPU and shuffling
    is NumPy's; without sampling and noise CD-1 is deterministic, so the fits differ only
    by float rounding (GEMM order) accumulated over the epochs."""
    X, *_ = _planted(T=300)
    kw = {"n_hidden": (16, 8, 4), "n_epochs": 3, "positive_phase": "prob", "noise_std": 0.0,
              "progress": False}
    cpu, gpu = VSDBN(**kw, device="cpu").fit(X), VSDBN(**kw, device="cuda").fit(X)
    for layer in (1, 2, 3):
        np.testing.assert_allclose(gpu.maps(layer), cpu.maps(layer), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(gpu.transform(X), cpu.transform(X), rtol=1e-3, atol=1e-4)


def test_bad_inputs():
    X, *_ = _planted(T=30)
    with pytest.raises(DataError, match="fewer than batch_size"):
        VSDBN(batch_size=40, progress=False).fit(X[:10])
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        VSDBN(progress=False).fit(bad)


def test_checkpoint_of_other_data_is_not_resumed(tmp_path):
    X, *_ = _planted(T=200)
    kw = {"n_hidden": (8, 4, 2), "n_epochs": 2, "progress": False, "checkpoint_dir": tmp_path}
    VSDBN(**kw).fit(X)
    fresh = VSDBN(**{**kw, "checkpoint_dir": None}).fit(-X)
    again = VSDBN(**kw).fit(-X)  # same shape, other values: trained anew
    np.testing.assert_array_equal(fresh.weights_[0], again.weights_[0])
