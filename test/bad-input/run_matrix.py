#!/usr/bin/python3
"""The bad-input matrix (issue #12): runs every case of cases.txt and checks that the tool exits with
status exactly 1 (not 0, not 2+, not a signal, within the case's timeout) and that its stderr matches
every `expect:` regex of the case (and none of the crash markers below).

  run_matrix.py --attnc PATH --attn-run PATH --work DIR [--jobs N] [--only REGEX] [--list]

Stdlib + numpy only (/usr/bin/python3). Binary .onnx files are made from the cases' protobuf text
with protoc (as test/Frontend/errors-binary.test does), so no onnx package is needed.

cases.txt format (see its header): `lib NAME = COMMAND` lines declare libraries compiled once per run
into WORK/lib/NAME.so ({out} in COMMAND); `case NAME` starts a case, followed by two-space-indented
`key: value` lines:
  class:   importer | compiler | runtime (reporting only)
  fix:     tag of the fix under way that the case depends on ("-" when the behaviour is expected now)
  timeout: seconds (default 60)
  file: NAME    the four-space-indented lines below it, written to the case dir as NAME
  pbtxt: NAME   same, encoded with protoc as onnx.ModelProto ("pbtxt: NAME as onnx.TensorProto")
  npy: NAME = EXPR      np.save(NAME, EXPR)          (EXPR: Python, `np` is numpy)
  bytes: NAME = EXPR    NAME gets the bytes of EXPR  (helpers: hdr(text, version=1) = a .npy
                        header for that dict text, data(n) = n bytes)
  prep: SHELL   a /bin/sh command run in the case dir before the case
  env: K=V      environment of the command
  run: COMMAND  the command (split like a shell would, no shell), run in the case dir
  expect: REGEX searched in stderr (Python re, MULTILINE); every one must match
  reject: REGEX that must not match stderr (e.g. a second, raw message from a subprocess)
  xfail: REASON   a known failure: reported as XFAIL and not counted; if the case passes it is
                  reported as XPASS and fails the run (remove the line then)
The pseudo-case `case @shared` only makes files, in WORK/shared ({sh}), before the other cases.
Placeholders in run/prep/lib: {attnc} {attn_run} {python} {t} (WORK) {dir} (case dir) {in} (Inputs/)
{src} (source root) {e2e} (test/e2e) {sh} (WORK/shared) {lib.NAME} (a compiled library).
Cases run in parallel (--jobs); each in its own directory WORK/run-<pid>/cases/<name>, kept for
reproduction until the next run.
"""
import argparse
import concurrent.futures
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))

# Never acceptable on stderr, whatever the case expects.
CRASH_MARKERS = re.compile(
    r"LLVM ERROR|Stack dump|PLEASE submit a bug report|Assertion .* failed|terminate called|"
    r"Segmentation fault|AddressSanitizer|core dumped|Traceback \(most recent call last\)|"
    r"internal error|please report")


class Case:
    def __init__(self, name, line):
        self.name, self.line = name, line
        self.cls, self.fix, self.timeout, self.xfail = "?", "-", 60.0, None
        self.files = []  # (kind, name, payload)
        self.preps, self.env, self.run, self.expects, self.rejects = [], {}, None, [], []


def parse_table(path):
    libs, cases = {}, []
    case, block = None, None
    with open(path) as f:
        lines = f.read().split("\n")
    for no, raw in enumerate(lines, 1):
        if block is not None:
            if raw.startswith("    ") or raw.strip() == "":
                if raw.strip():
                    block.append(raw[4:])
                continue
            case.files[-1] = case.files[-1][:2] + ("\n".join(block) + "\n",)
            block = None
        if not raw.strip() or raw.startswith("#"):
            continue
        where = "%s:%d" % (path, no)
        if raw.startswith("lib "):
            m = re.match(r"lib (\w+) = (.+)$", raw)
            if not m:
                sys.exit("%s: bad lib line" % where)
            libs[m.group(1)] = m.group(2)
            case = None
            continue
        if raw.startswith("case "):
            case = Case(raw[5:].strip(), where)
            if any(c.name == case.name for c in cases):
                sys.exit("%s: duplicate case name %s" % (where, case.name))
            cases.append(case)
            continue
        m = re.match(r"  (\w+): ?(.*)$", raw)
        if not m or case is None:
            sys.exit("%s: cannot parse %r" % (where, raw))
        key, val = m.group(1), m.group(2)
        if key == "class":
            case.cls = val
        elif key == "fix":
            case.fix = val
        elif key == "timeout":
            case.timeout = float(val)
        elif key in ("file", "pbtxt"):
            case.files.append((key, val, None))
            block = []
        elif key in ("npy", "bytes"):
            name, _, expr = val.partition(" = ")
            case.files.append((key, name.strip(), expr))
        elif key == "prep":
            case.preps.append(val)
        elif key == "env":
            k, _, v = val.partition("=")
            case.env[k] = v
        elif key == "run":
            case.run = val
        elif key == "expect":
            case.expects.append(val)
        elif key == "xfail":
            case.xfail = val
        elif key == "reject":
            case.rejects.append(val)
        else:
            sys.exit("%s: unknown key %r" % (where, key))
    if block is not None:
        case.files[-1] = case.files[-1][:2] + ("\n".join(block) + "\n",)
    for c in cases:
        if c.name == "@shared":
            continue
        if not c.run or not c.expects:
            sys.exit("%s: case %s needs run: and expect:" % (c.line, c.name))
    return libs, cases


def npy_header(text, version=1):
    """A .npy header (magic, version, length, dict text padded to 64 bytes) for arbitrary dict text."""
    body = text.encode("latin1")
    if version == 1:
        pad = (-(10 + len(body) + 1)) % 64
        body = body + b" " * pad + b"\n"
        return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body
    pad = (-(12 + len(body) + 1)) % 64
    body = body + b" " * pad + b"\n"
    return b"\x93NUMPY" + bytes([version, 0]) + len(body).to_bytes(4, "little") + body


class Runner:
    def __init__(self, args):
        self.args = args
        self.work = os.path.abspath(args.work)
        tool = lambda p: os.path.abspath(p) if os.sep in p else p
        self.subst = {
            "attnc": tool(args.attnc), "attn_run": tool(args.attn_run), "python": sys.executable,
            "t": self.work, "in": os.path.join(HERE, "Inputs"), "src": SRC,
            "e2e": os.path.join(SRC, "test", "e2e"), "sh": os.path.join(self.work, "shared"),
        }
        self.lib_errors = {}

    def expand(self, text, extra):
        def rep(m):
            key = m.group(1)
            if key.startswith("lib."):
                name = key[4:]
                if name in self.lib_errors:
                    raise SetupError("library %r did not compile: %s" % (name, self.lib_errors[name]))
                return os.path.join(self.work, "lib", name + ".so")
            if key in extra:
                return extra[key]
            if key in self.subst:
                return self.subst[key]
            raise SetupError("unknown placeholder {%s}" % key)
        return re.sub(r"\{([\w.]+)\}", rep, text)

    def build_lib(self, name, cmd):
        out = os.path.join(self.work, "lib", name + ".so")
        argv = shlex.split(self.expand(cmd, {"out": out}))
        t0 = time.time()
        try:
            p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as e:
            self.lib_errors[name] = str(e)
            return name, time.time() - t0
        if p.returncode != 0 or not os.path.exists(out):
            self.lib_errors[name] = "exit %d: %s" % (p.returncode, p.stderr.decode(errors="replace")[-600:])
        return name, time.time() - t0

    def prepare(self, case, cdir):
        import numpy as np
        os.makedirs(cdir)
        extra = {"dir": cdir}
        for kind, name, payload in case.files:
            path = os.path.join(cdir, name.split(" as ")[0])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if kind == "file":
                with open(path, "w") as f:
                    f.write(payload)
            elif kind == "pbtxt":
                msg = "onnx.ModelProto"
                m = re.match(r"(\S+) as (\S+)$", name)
                if m:
                    msg = m.group(2)
                with open(path, "wb") as f:
                    p = subprocess.run(["protoc", "--encode=" + msg, "-I/usr/include", "onnx/onnx.proto"],
                                       input=payload.encode(), stdout=f, stderr=subprocess.PIPE)
                if p.returncode != 0:
                    raise SetupError("protoc failed on %s: %s" % (name, p.stderr.decode(errors="replace")))
            elif kind == "npy":
                value = eval(payload, {"np": np})
                with open(path, "wb") as f:
                    np.save(f, value)
            elif kind == "bytes":
                value = eval(payload, {"np": np, "hdr": npy_header, "data": lambda n: bytes(i % 251 for i in range(n))})
                with open(path, "wb") as f:
                    f.write(value)
        for prep in case.preps:
            cmd = self.expand(prep, extra)
            p = subprocess.run(["/bin/sh", "-c", cmd], cwd=cdir, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
            if p.returncode != 0:
                raise SetupError("prep %r failed: %s" % (cmd, p.stdout.decode(errors="replace")))
        return shlex.split(self.expand(case.run, extra)) if case.run else None

    def run_case(self, case):
        cdir = os.path.join(self.work, "cases", re.sub(r"[^A-Za-z0-9._-]", "_", case.name))
        try:
            argv = self.prepare(case, cdir)
        except Exception as e:  # SetupError, or a bad expression in the table
            return case, False, "setup failed: %s: %s" % (type(e).__name__, e), "", 0.0
        env = dict(os.environ)
        env.update(case.env)
        t0 = time.time()
        try:
            p = subprocess.Popen(argv, cwd=cdir, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, start_new_session=True)
        except OSError as e:
            return case, False, "cannot run %s: %s" % (argv[0], e), "", 0.0
        try:
            out, err = p.communicate(timeout=case.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, err = p.communicate()
            return case, False, "timed out after %gs" % case.timeout, err.decode(errors="replace"), \
                time.time() - t0
        dt = time.time() - t0
        err = err.decode(errors="replace")
        problems = []
        rc = p.returncode
        if rc != 1:
            if rc < 0:
                problems.append("killed by signal %d (%s)" % (-rc, signal.Signals(-rc).name))
            else:
                problems.append("exit %d, expected 1" % rc)
        missing = [e for e in case.expects if not re.search(e, err, re.M)]
        if missing:
            problems.append("stderr lacks " + ", ".join(repr(e) for e in missing))
        for r in case.rejects:
            m = re.search(r, err, re.M)
            if m:
                problems.append("stderr has rejected %r (%r)" % (r, m.group(0)))
        crash = CRASH_MARKERS.search(err)
        if crash:
            problems.append("stderr has crash marker %r" % crash.group(0))
        return case, not problems, "; ".join(problems), err, dt


class SetupError(Exception):
    pass


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--attnc", required=True)
    ap.add_argument("--attn-run", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--table", default=os.path.join(HERE, "cases.txt"))
    ap.add_argument("--jobs", type=int, default=max(2, (os.cpu_count() or 2)))
    ap.add_argument("--only", help="run only cases whose name matches this regex")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--verbose", "-v", action="store_true", help="print stderr of passing cases too")
    args = ap.parse_args()

    libs, cases = parse_table(args.table)
    shared = [c for c in cases if c.name == "@shared"]
    cases = [c for c in cases if c.name != "@shared"]
    if args.only:
        cases = [c for c in cases if re.search(args.only, c.name)]
    if args.list:
        for c in cases:
            print("%-48s class=%-9s fix=%s" % (c.name, c.cls, c.fix))
        print("%d cases" % len(cases))
        return 0

    # Each run works in WORK/run-<pid>, so that two concurrent runs of the suite (two engineers
    # running lit on one build tree) do not delete each other's files; runs whose process is gone
    # are removed.
    os.makedirs(args.work, exist_ok=True)
    for entry in os.listdir(args.work):
        m = re.match(r"run-(\d+)$", entry)
        if m and int(m.group(1)) != os.getpid() and not pid_alive(int(m.group(1))):
            shutil.rmtree(os.path.join(args.work, entry), ignore_errors=True)
    args.work = os.path.join(args.work, "run-%d" % os.getpid())
    runner = Runner(args)
    shutil.rmtree(runner.work, ignore_errors=True)
    print("work directory: " + runner.work)
    os.makedirs(os.path.join(runner.work, "lib"))
    os.makedirs(os.path.join(runner.work, "cases"))
    t0 = time.time()
    for c in shared:
        runner.prepare(c, os.path.join(runner.work, "shared"))
    wanted = {n for n in libs if any("{lib.%s}" % n in (c.run + " ".join(c.preps)) for c in cases)}
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for name, dt in pool.map(lambda n: runner.build_lib(n, libs[n]), sorted(wanted)):
            status = "FAILED: " + runner.lib_errors[name] if name in runner.lib_errors else "ok"
            print("lib %s: %s (%.1fs)" % (name, status, dt))
        results = list(pool.map(runner.run_case, cases))

    failed, xfailed = [], []
    for case, ok, why, err, dt in results:
        first = err.strip().split("\n")[0] if err.strip() else "(empty stderr)"
        if case.xfail and not ok:
            xfailed.append(case)
            print("XFAIL %s (%s): %s" % (case.name, case.xfail, why))
            continue
        if case.xfail and ok:
            failed.append(case)
            print("XPASS %s: marked xfail (%s) but passes; remove its xfail line" % (case.name, case.xfail))
            continue
        if ok:
            print("PASS  %s (%.1fs)" % (case.name, dt))
            if args.verbose:
                print("      stderr: " + first)
        else:
            failed.append(case)
            print("FAIL  %s [class %s, fix %s] (%.1fs): %s" % (case.name, case.cls, case.fix, dt, why))
            print("      run: " + case.run)
            for line in err.strip().split("\n")[:4]:
                print("      stderr: " + line[:300])
            print("      (%s)" % case.line)
    by_cls = {}
    for case, ok, *_ in results:
        by_cls.setdefault(case.cls, [0, 0])[0 if ok else 1] += 1
    print("\n%d cases, %d passed, %d failed, %d expected failures (%.1fs); %s" % (
        len(results), len(results) - len(failed) - len(xfailed), len(failed), len(xfailed), time.time() - t0,
        ", ".join("%s %d/%d" % (k, v[0], v[0] + v[1]) for k, v in sorted(by_cls.items()))))
    if failed:
        by_fix = {}
        for c in failed:
            by_fix.setdefault(c.fix, []).append(c.name)
        for fix, names in sorted(by_fix.items()):
            print("failed (fix %s): %s" % (fix, " ".join(names)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
