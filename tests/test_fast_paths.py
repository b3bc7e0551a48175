"""The inference fast paths give the same numbers as the plain ones (up to float rounding)."""

import numpy as np
import pytest
import torch
from torch import nn

from framepred import fast_conv, inference, metrics
from framepred import model as fp_model
from framepred.config import ConvLSTMConfig
from framepred.inference import predict
from framepred.model import ConvLSTMSeq2Seq

needs_onednn = pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="no oneDNN in this torch build")


@pytest.fixture
def fast_conv_on():
    fast_conv.set_fast_conv(True)
    yield
    fast_conv.set_fast_conv(True)


@pytest.mark.parametrize("cin,cout,k,batch", [(64, 32, 3, 1), (96, 32, 3, 3), (48, 16, 1, 1)])
def test_fast_conv_matches_the_module(fast_conv_on, cin, cout, k, batch):
    torch.manual_seed(0)
    conv = nn.Conv2d(cin, cout, k, padding=k // 2)
    x = torch.rand(batch, cin, 16, 16)
    with torch.inference_mode():
        ref = conv(x)
        torch.testing.assert_close(fast_conv.conv2d(conv, x), ref, rtol=1e-5, atol=1e-5)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            ref16, out16 = conv(x), fast_conv.conv2d(conv, x)
    assert out16.dtype == ref16.dtype == torch.bfloat16
    torch.testing.assert_close(out16.float(), ref16.float(), rtol=2e-2, atol=2e-2)


def test_fast_conv_follows_weight_updates_and_stays_out_of_training(fast_conv_on):
    torch.manual_seed(0)
    conv = nn.Conv2d(8, 8, 3, padding=1)
    x = torch.rand(1, 8, 16, 16)
    with torch.no_grad():
        fast_conv.conv2d(conv, x)  # caches the reordered weights
        conv.weight.mul_(2)  # an optimiser step or load_state_dict changes them in place
        torch.testing.assert_close(fast_conv.conv2d(conv, x), conv(x), rtol=1e-5, atol=1e-5)
    y = fast_conv.conv2d(conv, x)  # autograd on: the ordinary module, with gradients
    y.sum().backward()
    assert conv.weight.grad is not None
    assert "weight" in conv.state_dict() and len(conv.state_dict()) == 2  # no cache in the state


@pytest.mark.parametrize("preset", ["tiny", "default"])
def test_model_with_and_without_fast_conv_agree(preset):
    torch.manual_seed(0)
    model = ConvLSTMSeq2Seq(ConvLSTMConfig.preset_config(preset)).eval()
    ctx = torch.rand(2, 10, 1, 64, 64)
    with torch.inference_mode():
        fast = model(ctx, 10)
        fast_conv.set_fast_conv(False)
        try:
            plain = model(ctx, 10)
        finally:
            fast_conv.set_fast_conv(True)
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-5)


@needs_onednn
def test_cpu_inference_takes_the_fast_path_and_training_does_not(fast_conv_on):
    """The counters prove which path ran: every convolution of a CPU prediction went through
    oneDNN (and agrees with nn.Conv2d), every one of a training forward through nn.Conv2d."""
    torch.manual_seed(0)
    model = ConvLSTMSeq2Seq(ConvLSTMConfig.preset_config("tiny"))
    ctx = np.random.default_rng(0).random((1, 10, 64, 64)).astype(np.float32)
    # 10 context steps + 4 more, each: one convolution per layer and the head.
    convs = (10 + 4) * (len(model.config.hidden_dims) + 1)

    fast_conv.reset_stats()
    fast = predict(model.eval(), ctx, 5)
    assert fast_conv.stats() == {"fast": convs, "fallback": 0}
    fast_conv.set_fast_conv(False)
    plain = predict(model, ctx, 5)
    assert fast_conv.stats() == {"fast": convs, "fallback": convs}
    np.testing.assert_allclose(fast, plain, rtol=1e-5, atol=1e-5)

    fast_conv.set_fast_conv(True)
    fast_conv.reset_stats()
    model.train()(torch.from_numpy(ctx)[:, :, None], 5).sum().backward()  # autograd on
    assert fast_conv.stats() == {"fast": 0, "fallback": convs}
    assert model.head.weight.grad is not None


@needs_onednn
def test_a_failed_bf16_fast_path_leaves_float32_fast(fast_conv_on, monkeypatch):
    """Where oneDNN refuses bf16 (a CPU without AVX-512: its exact error, raised here by torch's op
    on any machine), bf16 falls back to nn.Conv2d and float32 predictions keep the fast path."""
    torch.manual_seed(0)
    model = ConvLSTMSeq2Seq(ConvLSTMConfig.preset_config("tiny")).eval()
    ctx = np.random.default_rng(0).random((1, 10, 64, 64)).astype(np.float32)
    convs = (10 + 4) * (len(model.config.hidden_dims) + 1)
    reorder = torch.ops.mkldnn._reorder_convolution_weight

    def reorder_without_bf16(weight, *args):
        if weight.dtype == torch.bfloat16:
            raise RuntimeError("mkldnn_reorder_conv2d_weight: bf16 path needs the cpu support avx_ne_convert "
                               "or avx512bw, avx512vl and avx512dq")
        return reorder(weight, *args)

    p32 = predict(model, ctx, 5)  # float32 weights cached first: a bf16 failure must not drop them
    monkeypatch.setattr(torch.ops.mkldnn, "_reorder_convolution_weight", reorder_without_bf16)
    fast_conv.reset_stats()
    p16 = predict(model, ctx, 5, dtype=torch.bfloat16)
    assert fast_conv.stats() == {"fast": 0, "fallback": convs}
    assert fast_conv.failed_dtypes() == {torch.bfloat16}
    assert not fast_conv.fast_conv_enabled(torch.bfloat16) and fast_conv.fast_conv_enabled(torch.float32)
    assert np.abs(p16 - p32).max() < 0.05  # the fallback still predicts, in bf16
    fast_conv.reset_stats()
    np.testing.assert_array_equal(predict(model, ctx, 5), p32)  # float32: the same numbers...
    assert fast_conv.stats() == {"fast": convs, "fallback": 0}  # ...on the fast path, after the failure
    predict(model, ctx, 5, dtype=torch.bfloat16)
    assert fast_conv.stats() == {"fast": convs, "fallback": convs}  # bf16 is not retried on every call
    fast_conv.set_fast_conv(True)  # switching on again forgets the failure
    assert fast_conv.fast_conv_enabled(torch.bfloat16) and not fast_conv.failed_dtypes()


@pytest.mark.parametrize("switch,native", [("1", True), ("0", False), ("true", True), ("off", False)])
def test_native_bf16_switch_decides_auto_precision(monkeypatch, switch, native):
    monkeypatch.setenv("FRAMEPRED_NATIVE_BF16", switch)
    assert inference.native_bf16("cpu") is native
    assert inference.resolve_dtype("auto") == (torch.bfloat16 if native else torch.float32)
    assert inference.resolve_dtype("float32") == torch.float32  # a named precision is what runs
    assert inference.resolve_dtype("bfloat16") == torch.bfloat16
    assert inference.native_bf16("cuda") is False  # auto picks float32 off CPU


@pytest.mark.parametrize("env", [{"ATEN_CPU_CAPABILITY": "avx2"}, {"ONEDNN_MAX_CPU_ISA": "AVX2"},
                                 {"ONEDNN_MAX_CPU_ISA": "avx512_core"}])
def test_kernels_capped_below_bf16_count_as_no_native_bf16(monkeypatch, env):
    monkeypatch.delenv("FRAMEPRED_NATIVE_BF16", raising=False)
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert inference.native_bf16("cpu") is False


def test_native_bf16_switch_rejects_other_values(monkeypatch):
    monkeypatch.setenv("FRAMEPRED_NATIVE_BF16", "maybe")
    with pytest.raises(ValueError, match="FRAMEPRED_NATIVE_BF16 must be 1 or 0"):
        inference.native_bf16("cpu")


def test_cell_matches_the_textbook_equations():
    torch.manual_seed(0)
    cell = fp_model.ConvLSTMCell(3, 5, 3)
    x, h, c = torch.rand(2, 3, 8, 8), torch.rand(2, 5, 8, 8), torch.randn(2, 5, 8, 8)
    gates = cell.conv(torch.cat([x, h], 1))
    i, f, o, g = gates.chunk(4, 1)
    c_ref = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_ref = torch.sigmoid(o) * torch.tanh(c_ref)
    for grad in (True, False):
        with torch.set_grad_enabled(grad):
            h2, c2 = cell(x, (h, c))
        torch.testing.assert_close(c2, c_ref, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(h2, h_ref, rtol=1e-5, atol=1e-6)


def test_predict_bf16_is_close_to_float32_and_checks_its_dtype():
    torch.manual_seed(0)
    model = ConvLSTMSeq2Seq(ConvLSTMConfig.preset_config("tiny")).eval()
    ctx = np.random.default_rng(0).random((2, 10, 64, 64)).astype(np.float32)
    p32 = predict(model, ctx, 5)
    p16 = predict(model, ctx, 5, dtype=torch.bfloat16)
    assert p16.dtype == np.float32 and p16.shape == p32.shape
    assert np.abs(p16 - p32).max() < 0.05
    np.testing.assert_array_equal(predict(model, ctx, 5, dtype=torch.float32), p32)
    with pytest.raises(ValueError, match="dtype"):
        predict(model, ctx, 5, dtype=torch.int8)


def test_box_sum_equals_a_direct_window_sum():
    x = np.random.default_rng(0).random((2, 3, 12, 10))
    w = 4
    ref = np.array([[[[x[a, b, i : i + w, j : j + w].sum() for j in range(10 - w + 1)]
                      for i in range(12 - w + 1)] for b in range(3)] for a in range(2)])
    np.testing.assert_allclose(metrics._box_sum(x, w), ref, rtol=1e-12)
