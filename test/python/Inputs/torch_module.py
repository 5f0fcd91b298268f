"""attnc.compile(torch.nn.Module, example_inputs=...) and torch tensors as inputs, run by a
Python that has torch (test/python/lit.local.cfg: %torch_python). Compares with the
module's own outputs at shapes other than the example's (dynamic batch/sequence axes).

  torch_module.py WORK_DIR
Prints one line per check; exits 1 on the first failure."""
import os
import sys
import warnings

import numpy as np
import torch

import attnc

work = sys.argv[1]
os.makedirs(work, exist_ok=True)
torch.manual_seed(0)


class Block(torch.nn.Module):
    """Pre-norm self-attention block with a causal mask."""

    def __init__(self, d=32, heads=4):
        super().__init__()
        self.norm = torch.nn.LayerNorm(d)
        self.qkv = torch.nn.Linear(d, 3 * d)
        self.proj = torch.nn.Linear(d, d)
        self.heads = heads

    def forward(self, x):
        b, s, d = x.shape
        q, k, v = self.qkv(self.norm(x)).split(d, dim=-1)
        split = lambda t: t.reshape(b, s, self.heads, d // self.heads).transpose(1, 2)
        a = torch.nn.functional.scaled_dot_product_attention(split(q), split(k), split(v),
                                                             is_causal=True)
        return x + self.proj(a.transpose(1, 2).reshape(b, s, d))


class TwoIn(torch.nn.Module):
    def forward(self, x, y):
        return torch.tanh(x) * y, x.sum(-1)


def check(label, got, ref):
    ref = ref.detach().numpy()
    err = float(np.max(np.abs(got - ref))) / max(1.0, float(np.max(np.abs(ref))))
    print("%s: %s err=%.2g" % (label, "PASS" if err <= 1e-4 else "FAIL", err))
    if err > 1e-4:
        sys.exit(1)


with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the exporter's deprecation chatter
    block = Block().eval()
    m = attnc.compile(block, example_inputs=torch.randn(2, 7, 32))
    names = [i["name"] for i in m.inputs]
    print("block inputs:", names, "shape", m.inputs[0]["shape"])
    for b, s in ((2, 7), (1, 3), (3, 16)):
        x = torch.randn(b, s, 32)
        out = m(input=x)  # a torch tensor: read in place
        check("block %dx%d" % (b, s), out["output"], block(x))
        # numpy input and output as DLPack into torch
        out2 = m(input=x.numpy())
        t = torch.from_dlpack(out2["output"])
        print("from_dlpack shares:", t.data_ptr() == out2["output"].ctypes.data)

    two = TwoIn().eval()
    m2 = attnc.compile(two, example_inputs={"x": torch.randn(2, 5), "y": torch.randn(2, 5)},
                       output=os.path.join(work, "two.so"))
    print("two inputs:", [i["name"] for i in m2.inputs], "outputs:",
          [o["name"] for o in m2.outputs])
    x, y = torch.randn(4, 9), torch.randn(4, 9)
    got = m2(x=x, y=y)
    r0, r1 = two(x, y)
    check("two output0", got["output0"], r0)
    check("two output1", got["output1"], r1)

# Torch inputs are read without a copy when contiguous with the model's dtype.
x = torch.randn(3, 9)
arrays = m2._arrays({"x": x, "y": x})
print("torch in place:", arrays[0].ctypes.data == x.data_ptr())
xg = torch.randn(3, 9, requires_grad=True)
check("requires_grad", m2(x=xg, y=xg)["output0"], torch.tanh(xg) * xg)
xt = torch.randn(9, 3).t()  # not contiguous: copied into C order
check("transposed", m2(x=xt, y=xt)["output0"], torch.tanh(xt) * xt)


def expect_error(label, fn, kind=attnc.RunError):
    try:
        fn()
    except kind as e:
        print("%s: %s: %s" % (label, type(e).__name__, e))
        return
    print("%s: no error" % label)
    sys.exit(1)


expect_error("meta", lambda: m2(x=torch.empty(3, 9, device="meta"), y=x))
expect_error("bf16", lambda: m2(x=x.bfloat16(), y=x))
expect_error("f64", lambda: m2(x=x.double(), y=x))
expect_error("no example", lambda: attnc.compile(TwoIn()), TypeError)
print("OK")
