"""attnc: compile transformer models (ONNX) into native libraries and run them.

    import attnc, numpy as np
    model = attnc.compile("model.onnx")            # or bytes, an onnx.ModelProto, a torch.nn.Module
    outputs = model(input_ids=np.array(...))       # dict: output name -> numpy array
    model.signature                                # inputs/outputs with dtypes and symbolic dims
    model.benchmark(runs=20, input_ids=...)        # timings in milliseconds
    model.generate(ids, mask, max_new_tokens=32)   # causal LMs (with-past exports): new tokens
    attnc.load("model.so")                         # a library compiled before (attnc -o model.so)

Errors raise attnc.CompileError (the compiler's diagnostics, as attnc prints them) or
attnc.RunError (the runtime's message); both are attnc.Error. The GIL is released while a
model compiles or runs, so threads can compile and run models at once.
"""
import json
import os
import shutil
import statistics
import sys
import tempfile
import warnings

import numpy as np

from . import _native
from ._native import CompileError, Error, RunError

__all__ = ["compile", "load", "Model", "Session", "Error", "CompileError", "RunError",
           "set_num_threads", "get_num_threads"]
__version__ = "0.2.0"

# compile() keyword options -> _native.compile_file arguments.
_OPTIONS = ("mcpu", "mattr", "remarks", "attention_query_tile", "attention_key_tile",
            "gpu_tensor_cores", "opt_level", "inputs_override_initializers", "kv_cache")

# Runtime dtype name -> numpy dtype used to convert non-array inputs (lists, scalars).
_NUMPY_DTYPES = {"f32": np.float32, "f64": np.float64, "f16": np.float16, "bf16": np.float32,
                 "i64": np.int64, "i32": np.int32, "i16": np.int16, "i8": np.int8,
                 "u8": np.uint8, "bool": np.bool_}


# DLPack device types (dlpack.h DLDeviceType) -> names for messages.
_DLPACK_DEVICES = {1: "cpu", 2: "cuda", 3: "cuda_host", 4: "opencl", 7: "vulkan", 8: "metal",
                   9: "vpi", 10: "rocm", 11: "rocm_host", 12: "ext_dev", 13: "cuda_managed",
                   14: "oneapi", 15: "webgpu", 16: "hexagon", 17: "maia"}
# Memory the CPU reads directly (numpy.from_dlpack accepts exactly these).
_DLPACK_HOST = (1, 3, 11, 13)


def _torch_array(value, name, dtype):
    """A CPU torch.Tensor as a numpy array over the same memory (no copy)."""
    torch = sys.modules["torch"]
    if value.device.type != "cpu":
        raise RunError("input '%s': a torch tensor on device %s; attnc reads inputs from CPU "
                       "memory (move it with .cpu())" % (name, value.device))
    value = value.detach()
    if value.dtype == torch.bfloat16:
        if dtype != "bf16":
            raise RunError("input '%s': expected dtype %s, got torch.bfloat16" % (name, dtype))
        return value.view(torch.int16).numpy().view(np.uint16)  # raw bf16 words
    try:
        return value.numpy()
    except (TypeError, RuntimeError) as e:
        raise RunError("input '%s': %s" % (name, e)) from None


def _dlpack_array(value, name):
    """An object with __dlpack__ in CPU memory as a numpy array over it (no copy)."""
    device = getattr(value, "__dlpack_device__", None)
    if device is not None:
        kind, index = device()
        kind = int(kind)
        if kind not in _DLPACK_HOST:
            raise RunError("input '%s': a DLPack tensor on device %s:%d; attnc reads inputs "
                           "from CPU memory (copy it to the CPU first)" % (
                               name, _DLPACK_DEVICES.get(kind, "type %d" % kind), int(index)))
    try:
        return np.from_dlpack(value)
    except (TypeError, ValueError, RuntimeError, BufferError) as e:
        raise RunError("input '%s': cannot read it through DLPack: %s" % (name, e)) from None


def _input_array(value, name, dtype):
    """An input value as a numpy array: numpy arrays as they are; torch tensors and other
    DLPack objects (__dlpack__) in CPU memory as arrays over their memory (no copy; the
    runtime then reads them in place when C-contiguous with the model's dtype); lists and
    scalars converted to the model's dtype (`dtype`: the runtime's dtype name)."""
    if isinstance(value, np.ndarray):
        return value  # its dtype is checked by the runtime, which names the input
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        return _torch_array(value, name, dtype)
    if hasattr(value, "__dlpack__"):
        return _dlpack_array(value, name)
    return np.asarray(value, dtype=_NUMPY_DTYPES[dtype])


class Model:
    """A compiled model loaded by the runtime. Call it with numpy arrays by input name."""

    def __init__(self, path, _native_model=None):
        self.path = os.fspath(path) if path is not None else None
        self._model = _native_model if _native_model is not None else _native.Model(self.path)
        self._inputs = self._model.inputs
        self._outputs = self._model.outputs
        self._input_names = [i["name"] for i in self._inputs]
        self._signature = None

    @property
    def signature(self):
        """The library's signature JSON as a dict ("inputs", "outputs", "target", ...)."""
        if self._signature is None:
            self._signature = json.loads(self._model.signature_json)
        return self._signature

    @property
    def inputs(self):
        """[{"name", "dtype", "shape"}] in call order; a dynamic dim is its symbolic name."""
        return [dict(i) for i in self._inputs]

    @property
    def outputs(self):
        return [dict(o) for o in self._outputs]

    @property
    def target(self):
        return self._model.target

    def _arrays(self, arrays):
        unknown = [k for k in arrays if k not in self._input_names]
        if unknown:
            raise RunError("unknown input '%s' (the model's inputs: %s)" % (
                unknown[0], ", ".join(self._input_names) or "none"))
        missing = [n for n in self._input_names if n not in arrays]
        if missing:
            raise RunError("missing input '%s' (the model's inputs: %s)" % (
                missing[0], ", ".join(self._input_names)))
        return [_input_array(arrays[info["name"]], info["name"], info["dtype"])
                for info in self._inputs]

    def __call__(self, **arrays):
        """Runs the model: input name -> array; returns output name -> numpy array.

        An input is a numpy array, a torch.Tensor or any DLPack object (__dlpack__) in CPU
        memory (another device raises RunError naming the input), or a list or scalar.
        Arrays already C-contiguous with the model's dtype are read in place (no copy);
        float32 is accepted for f16/bf16 inputs (rounded to nearest even), uint16 words
        (or torch.bfloat16) for bf16. Outputs are numpy arrays over the runtime's buffers
        (no copy; they have __dlpack__: torch.from_dlpack(out) shares them too). bf16
        outputs come back as float32."""
        values = self._model.run(self._arrays(arrays))
        return {o["name"]: v for o, v in zip(self._outputs, values)}

    run = __call__

    def benchmark(self, runs=10, warmup=1, **arrays):
        """Times `runs` calls (after `warmup` untimed ones) of the model on these inputs.

        Returns {"runs", "warmup", "threads", "min_ms", "median_ms", "mean_ms", "max_ms",
        "times_ms"}."""
        times = self._model.benchmark(self._arrays(arrays), int(warmup), int(runs))
        return {"runs": len(times), "warmup": int(warmup), "threads": _native.get_num_threads(),
                "min_ms": min(times), "median_ms": statistics.median(times),
                "mean_ms": statistics.fmean(times), "max_ms": max(times),
                "times_ms": list(times)}

    def generate(self, input_ids, attention_mask=None, *, max_new_tokens=16, temperature=None,
                 top_k=None, top_p=None, seed=None, stop_tokens=None, pad_token_id=None,
                 max_length=None, return_timings=False):
        """Generates tokens with a causal LM compiled from a "with-past" export (a plain one,
        whose present K/V outputs are fed back as past inputs, or one compiled with
        attnc --kv-cache=N, whose cache is updated in place).

        input_ids: int [batch, seq] (or [seq] for one row); attention_mask: 0/1 of the same
        shape, 0s on the left for padding (None: all ones). Greedy (argmax) unless one of
        temperature, top_k, top_p is given: then tokens are sampled as Hugging Face's
        generate(do_sample=True) does (temperature, default 1; then top_k; then top_p), from a
        generator seeded with `seed` (the same seed gives the same tokens; None: a random
        seed). temperature=0 is greedy. A row that emits one of `stop_tokens` is finished and
        then emits pad_token_id (default: the first stop token); generation ends after
        max_new_tokens tokens or when every row is finished. max_length: the longest context
        (prompt + fed tokens); None: the cache size of a --kv-cache library, else unbounded.

        Returns the new tokens, numpy int64 [batch, n] (n <= max_new_tokens), or with
        return_timings=True (tokens, {"prefill_ms", "decode_ms_per_token", "tokens_per_s",
        "counts", "steps", "threads", "kv_cache"}); "counts" is each row's number of
        tokens, its stop token included. The GIL is released while the model runs.
        Raises RunError with the runtime's message (e.g. "context full: 33 of 32 tokens",
        or what makes the model unusable for generation)."""
        ids, mask = _prompt(input_ids, attention_mask, None)
        session = self.session(ids.shape[0], max_length, max_new_tokens=max_new_tokens,
                               temperature=temperature, top_k=top_k, top_p=top_p, seed=seed,
                               stop_tokens=stop_tokens, pad_token_id=pad_token_id)
        return session.generate(ids, mask, return_timings=return_timings)

    def session(self, batch, max_length=None, *, max_new_tokens=16, temperature=None,
                top_k=None, top_p=None, seed=None, stop_tokens=None, pad_token_id=None):
        """A generation session of `batch` rows for step-by-step decoding:

            s = model.session(batch=2)
            s.prefill(ids, mask)           # runs the prompt
            tok = s.step()                 # int64 [batch]: the next token of every row
            s.logits                       # float32 [batch, vocab] that step chose from

        The options are those of generate(). A session keeps the model alive; use one session
        per thread (several sessions of one model may run in different threads at once)."""
        return Session(self._model.session(int(batch), **_gen_options(
            max_length, max_new_tokens, temperature, top_k, top_p, seed, stop_tokens,
            pad_token_id)))

    def __repr__(self):
        def fmt(infos):
            return ", ".join("%s: %s%s" % (i["name"], i["dtype"], list(i["shape"])) for i in infos)
        return "<attnc.Model (%s) -> (%s)%s>" % (fmt(self._inputs), fmt(self._outputs),
                                                 " from '%s'" % self.path if self.path else "")


_INT64_MAX = (1 << 63) - 1
_INT32_MAX = (1 << 31) - 1


def _gen_options(max_length, max_new_tokens, temperature, top_k, top_p, seed, stop_tokens,
                 pad_token_id):
    """generate()/session() options -> _native.Model.session keyword arguments."""
    sampling = temperature is not None or top_k is not None or top_p is not None
    if isinstance(stop_tokens, (int, np.integer)):
        stop_tokens = [stop_tokens]
    stops = [int(t) for t in stop_tokens] if stop_tokens is not None else []
    def check_int(name, value, lo, hi):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise TypeError("%s must be an int, not %s" % (name, type(value).__name__))
        if not lo <= value <= hi:
            raise RunError("%s must be in [%d, %d], got %d" % (name, lo, hi, value))
    check_int("max_new_tokens", max_new_tokens, 0, _INT32_MAX)
    if top_k is not None:
        check_int("top_k", top_k, 0, _INT32_MAX)
    if max_length is not None:
        check_int("max_length", max_length, 1, _INT64_MAX)
    if pad_token_id is not None:
        check_int("pad_token_id", pad_token_id, 0, _INT64_MAX)
    if seed is not None:
        check_int("seed", seed, -(1 << 63), (1 << 64) - 1)
    else:
        seed = int.from_bytes(os.urandom(8), "little") if sampling else 0
    if temperature is not None and float(temperature) < 0:
        raise RunError("temperature must be >= 0, got %g" % float(temperature))
    for t in stops:
        if not 0 <= t <= _INT64_MAX:
            raise RunError("stop token %d is negative or too large" % t)
    return {"max_len": int(max_length or 0), "max_new_tokens": int(max_new_tokens),
            "temperature": float(temperature if temperature is not None else
                                 (1.0 if sampling else 0.0)),
            "top_k": int(top_k or 0), "top_p": float(top_p if top_p is not None else 1.0),
            "seed": int(seed) & 0xFFFFFFFFFFFFFFFF, "stop_tokens": stops,
            "pad_token_id": int(-1 if pad_token_id is None else pad_token_id)}


def _prompt(input_ids, attention_mask, batch):
    """input_ids / attention_mask as int64 [batch, seq] arrays ([seq] is one row)."""
    def rows(value, name):
        if not isinstance(value, np.ndarray) and hasattr(value, "__dlpack__"):
            value = _input_array(value, name, "i64")  # torch / DLPack: CPU memory, no copy
        a = np.asarray(value)
        if a.dtype.kind not in "iu" and a.size:
            raise RunError("%s: expected integer token ids, got numpy dtype %s" % (name, a.dtype))
        if a.ndim == 1:
            a = a[None, :]
        if a.ndim != 2:
            raise RunError("%s: expected [batch, seq] or [seq], got shape %s" % (
                name, list(a.shape)))
        return np.ascontiguousarray(a, dtype=np.int64)
    ids = rows(input_ids, "input_ids")
    mask = rows(attention_mask, "attention_mask") if attention_mask is not None else None
    if batch is not None and ids.shape[0] != batch:
        raise RunError("input_ids: the session has %d rows, got %d" % (batch, ids.shape[0]))
    return ids, mask


class Session:
    """A generation session (Model.session(...)): prefill() a prompt, then step() one token
    per row at a time. Errors raise RunError with the runtime's message."""

    def __init__(self, native):
        self._s = native

    def prefill(self, input_ids, attention_mask=None):
        """Starts over with a prompt (int [batch, seq], mask 0/1 with left padding or None)
        and runs the model on it. The sampling generator is re-seeded."""
        ids, mask = _prompt(input_ids, attention_mask, self._s.batch)
        self._s.prefill(ids, mask)

    def step(self):
        """The next token of every row, numpy int64 [batch] (a finished row gets the pad
        token). The first step after prefill() picks from the prompt's logits; each later one
        first runs the model on the previous step's tokens."""
        return self._s.step()

    @property
    def logits(self):
        """float32 [batch, vocab]: the logits the last step() selected from (a copy)."""
        return self._s.last_logits()

    def generate(self, input_ids, attention_mask=None, *, return_timings=False):
        """prefill() + up to max_new_tokens step()s (the session's options); see
        Model.generate."""
        ids, mask = _prompt(input_ids, attention_mask, self._s.batch)
        tokens, counts, prefill_ms, decode_ms, tps = self._s.generate(ids, mask)
        if not return_timings:
            return tokens
        return tokens, {"prefill_ms": prefill_ms, "decode_ms_per_token": decode_ms,
                        "tokens_per_s": tps, "counts": counts, "steps": int(tokens.shape[1]),
                        "threads": _native.get_num_threads(), "kv_cache": self._s.kv_cache}

    @property
    def done(self):
        """True when every row has emitted a stop token (False without stop tokens)."""
        return self._s.done

    @property
    def batch(self):
        return self._s.batch

    @property
    def kv_cache(self):
        """True for a --kv-cache library (in-place cache), False for past/present."""
        return self._s.kv_cache

    @property
    def max_length(self):
        """The longest context, or None when unbounded."""
        n = self._s.max_len
        return None if n >= _INT64_MAX else n

    @property
    def context_length(self):
        """Tokens in the context now (prompt + fed tokens, pads included)."""
        return self._s.context_len

    def __repr__(self):
        return "<attnc.Session batch=%d context=%d max_length=%s%s>" % (
            self.batch, self.context_length, self.max_length,
            " kv_cache" if self.kv_cache else "")


def load(path):
    """Loads a library compiled by attnc (or attnc.compile(..., output=path))."""
    return Model(path)


def _torch_to_onnx(module, example_inputs, path, opset):
    try:
        import torch
    except ImportError:
        raise NotImplementedError("compiling a torch.nn.Module needs torch, which this Python "
                                  "cannot import; export it to ONNX first") from None
    if example_inputs is None:
        raise TypeError("compiling a torch.nn.Module needs example_inputs=")
    if isinstance(example_inputs, dict):
        names = list(example_inputs)
        args = tuple(example_inputs.values())  # in the order of forward()'s parameters
    else:
        if isinstance(example_inputs, torch.Tensor):
            example_inputs = (example_inputs,)
        args = tuple(example_inputs)
        names = ["input%d" % i if len(args) > 1 else "input" for i in range(len(args))]
    dynamic_axes = {}
    for name, arg in zip(names, args):
        if isinstance(arg, torch.Tensor) and arg.dim() >= 1:
            dynamic_axes[name] = {0: "batch", 1: "seq"} if arg.dim() >= 2 else {0: "batch"}
    with torch.no_grad():
        out = module(*args)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    out_names = ["output%d" % i if len(outs) > 1 else "output" for i in range(len(outs))]
    for name, o in zip(out_names, outs):
        if isinstance(o, torch.Tensor) and o.dim() >= 1:
            dynamic_axes[name] = {0: "batch", 1: "seq"} if o.dim() >= 2 else {0: "batch"}
    module.eval()
    torch.onnx.export(module, args, path, input_names=names, output_names=out_names,
                      dynamic_axes=dynamic_axes, opset_version=opset, verbose=False)


def compile(model, *, target="cpu", output=None, example_inputs=None, opset=17, emit="lib",
            **options):
    """Compiles a model into a native library and loads it (emit="lib", the default), or into a
    standalone program (emit="exe": what attnc --emit=exe writes, at output=, which is required;
    returns that path as a str).

    model: a path (str or os.PathLike) to .onnx / .onnxtext / .mlir, the bytes of an ONNX
    model, an onnx.ModelProto, or a torch.nn.Module with example_inputs= (a tensor, tuple or
    dict of name -> tensor; exported with dynamic batch/sequence axes, needs torch).
    target: "cpu" or "cuda[:sm_80|sm_90]". output: where to keep the library (else it lives
    only as long as the Model). options: mcpu, mattr (default: $ATTNC_MCPU, else the host),
    remarks, attention_query_tile, attention_key_tile, gpu_tensor_cores, opt_level (0-3),
    inputs_override_initializers, kv_cache (N >= 1: a with-past export compiled with an in-place
    cache of N positions, as attnc --kv-cache=N; see Model.generate; 0 or less is refused as
    the command line refuses it; None: no cache). Warnings and remarks of the compile are issued as Python
    warnings (attnc.CompileWarning). Raises CompileError with the compiler's diagnostics."""
    unknown = [k for k in options if k not in _OPTIONS]
    if unknown:
        raise TypeError("compile() got an unexpected option '%s' (options: %s)" % (
            unknown[0], ", ".join(_OPTIONS)))
    if emit not in ("lib", "exe"):
        raise ValueError("compile(): emit=%r, expected 'lib' (a library, loaded) or 'exe' (a "
                         "standalone program, as attnc --emit=exe)" % (emit,))
    if emit == "exe" and output is None:
        raise ValueError("compile(emit='exe') needs output= (where to write the program)")
    if options.get("kv_cache") is None:
        options.pop("kv_cache", None)  # None: no cache, as without --kv-cache
    if "mcpu" not in options and os.environ.get("ATTNC_MCPU"):
        options["mcpu"] = os.environ["ATTNC_MCPU"]
    tmp = tempfile.mkdtemp(prefix="attnc-")
    try:
        if isinstance(model, (str, os.PathLike)):
            path = os.fspath(model)
            if not os.path.exists(path):
                raise CompileError("error: cannot open '%s': no such file" % path)
        elif isinstance(model, (bytes, bytearray, memoryview)):
            path = os.path.join(tmp, "model.onnx")
            with open(path, "wb") as f:
                f.write(bytes(model))
        elif hasattr(model, "SerializeToString"):  # onnx.ModelProto
            path = os.path.join(tmp, "model.onnx")
            with open(path, "wb") as f:
                f.write(model.SerializeToString())
        elif type(model).__module__.startswith("torch") or hasattr(model, "state_dict"):
            path = os.path.join(tmp, "model.onnx")
            _torch_to_onnx(model, example_inputs, path, opset)
        else:
            raise TypeError("compile() takes a path, bytes, an onnx.ModelProto or a "
                            "torch.nn.Module, not %s" % type(model).__name__)
        lib = os.fspath(output) if output is not None else os.path.join(tmp, "model.so")
        try:
            notes = _native.compile_file(path, lib, target=target, emit=emit, **options)
        except CompileError as e:
            if path.startswith(tmp):  # say what the caller gave, not our temporary file
                raise CompileError(str(e).replace(path, "<model bytes>")) from None
            raise
        for note in notes:
            warnings.warn(note, CompileWarning, stacklevel=2)
        if emit == "exe":
            return lib
        # The runtime keeps the library mapped: a temporary one can go right away.
        return Model(output if output is not None else None, _native.Model(lib))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class CompileWarning(UserWarning):
    """A warning or remark of the compiler (the text attnc prints)."""


def set_num_threads(n):
    """Threads every model runs on (n <= 0: $ATTN_NUM_THREADS, else the CPUs)."""
    _native.set_num_threads(int(n))


def get_num_threads():
    return _native.get_num_threads()


__all__.append("CompileWarning")
