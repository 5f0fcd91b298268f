"""lit test format of test/e2e: the hand-written *.test files (lit's ShTest, unchanged) plus one
lit test per entry of the model manifest, models.txt.

A manifest entry names a fixture directory test/e2e/<fixture>/ (model.onnx, case.json, inputs and
PyTorch's expected outputs, written by scripts/gen_fixtures.py) and how to check it. Its test runs

    attnc %S/<fixture>/model.onnx -o %t.so [FLAGS...]
    %python %S/run_case.py attn-run %t.so %S/<fixture> %t.out                  (static case)
    %python %S/compare.py %t.out %S/<fixture>/expected [--tol TOL]
or, for each shape set K of a dynamic-shape case,
    %python %S/run_case.py attn-run %t.so %S/<fixture> %t.outK --set K
    %python %S/compare.py %t.outK %S/<fixture>/shapes/K/expected [--tol TOL]

through lit's own shell (same substitutions, environment and failure log as a RUN: line; the log
names the manifest line). Test names are e2e/models.txt/<name>. Selecting tests:
    lit build/test/e2e                   everything (the .test files and every entry)
    lit build/test/e2e/models.txt        every manifest entry
    lit build/test/e2e/<fixture>         the entries of that fixture (e.g. build/test/e2e/bert)
    lit build/test --filter 'models.txt/bert$'
A malformed entry, or one whose fixture is missing or disagrees with its case.json, is an
UNRESOLVED test (never silently dropped). The manifest syntax is described at its top. An entry's
%t is <exec root>/e2e/models.txt/Output/<name>.tmp: the suite's exec root (build/test) must not be
its source tree, where models.txt is a file. manifest_format.test tests this format.

The class lives in a module (not in lit.local.cfg) because lit pickles tests, and with them the
format, into its worker processes.
"""
import json
import os
import re
import shlex

import lit.formats
import lit.Test
import lit.TestRunner

KEYS = ("sets", "tol", "flags", "fixture", "requires")


class Entry(object):
    """One manifest entry; `error` is set (and the rest may be missing) when it is malformed."""

    def __init__(self, name, line, fixture=None, sets=None, tol=None, flags=(), requires=("numpy",),
                 error=None):
        self.name = name
        self.line = line
        self.fixture = fixture or name
        self.sets = sets
        self.tol = tol
        self.flags = list(flags)
        self.requires = list(requires)
        self.error = error

    def commands(self):
        """The RUN lines of this entry (lit substitutions not yet applied)."""
        fx = "%S/" + self.fixture
        build = "attnc %s/model.onnx -o %%t.so" % fx
        if self.flags:
            build += " " + " ".join(shlex.quote(f) for f in self.flags)
        tol = " --tol %s" % self.tol if self.tol is not None else ""
        cmds = [build]
        if self.sets is None:
            cmds.append("%%python %%S/run_case.py attn-run %%t.so %s %%t.out" % fx)
            cmds.append("%%python %%S/compare.py %%t.out %s/expected%s" % (fx, tol))
        else:
            for k in self.sets:
                cmds.append("%%python %%S/run_case.py attn-run %%t.so %s %%t.out%d --set %d" % (fx, k, k))
                cmds.append("%%python %%S/compare.py %%t.out%d %s/shapes/%d/expected%s" % (k, fx, k, tol))
        return cmds


def parse_manifest(path):
    """Returns the entries of the manifest at `path`, in order (malformed ones with .error)."""
    base = os.path.basename(path)
    e2e_dir = os.path.dirname(path)
    entries, seen = [], {}
    with open(path) as f:
        lines = f.read().splitlines()
    for lineno, text in enumerate(lines, 1):
        where = "%s line %d" % (base, lineno)
        try:
            words = shlex.split(text, comments=True)
        except ValueError as e:
            entries.append(Entry("line%d" % lineno, lineno, error="%s: %s" % (where, e)))
            continue
        if not words:
            continue
        name = words[0]
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name):
            entries.append(Entry("line%d" % lineno, lineno,
                                 error="%s: an entry starts with a case name ([A-Za-z0-9_.-]), not '%s'"
                                 % (where, name)))
            continue
        fields, error = {}, None
        for w in words[1:]:
            key, eq, value = w.partition("=")
            if not eq or key not in KEYS:
                error = "%s: '%s' is not KEY=VALUE with KEY one of %s" % (where, w, ", ".join(KEYS))
                break
            if key in fields:
                error = "%s: '%s' given twice" % (where, key)
                break
            fields[key] = value
        if name in seen:
            error = "%s: '%s' is already an entry (line %d)" % (where, name, seen[name])
            name = "%s.line%d" % (name, lineno)
        seen.setdefault(name, lineno)
        if error:
            entries.append(Entry(name, lineno, error=error))
            continue
        try:
            sets = None
            if "sets" in fields:
                sets = [int(s) for s in fields["sets"].split(",")]
                if not sets or len(set(sets)) != len(sets) or min(sets) < 0:
                    raise ValueError
        except ValueError:
            entries.append(Entry(name, lineno, error="%s: sets=%s is not a list of distinct set numbers "
                                 "(e.g. sets=0,1,2,3)" % (where, fields["sets"])))
            continue
        tol = fields.get("tol")
        if tol is not None:
            try:
                if not float(tol) > 0:
                    raise ValueError
            except ValueError:
                entries.append(Entry(name, lineno, error="%s: tol=%s is not a positive number" % (where, tol)))
                continue
        entry = Entry(name, lineno, fixture=fields.get("fixture"), sets=sets, tol=tol,
                      flags=shlex.split(fields.get("flags", "")),
                      requires=[r for r in fields.get("requires", "numpy").split(",") if r])
        entry.error = check_fixture(entry, e2e_dir, where)
        entries.append(entry)
    return entries


def check_fixture(entry, e2e_dir, where):
    """An error message if the entry's fixture directory cannot run as the entry says, else None."""
    fixture_dir = os.path.join(e2e_dir, entry.fixture)
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", entry.fixture) or not os.path.isfile(os.path.join(fixture_dir, "model.onnx")):
        return "%s: %s: no fixture test/e2e/%s/model.onnx" % (where, entry.name, entry.fixture)
    try:
        with open(os.path.join(fixture_dir, "case.json")) as f:
            n_sets = len(json.load(f).get("shape_sets", []))
    except (OSError, ValueError) as e:
        return "%s: %s: cannot read test/e2e/%s/case.json: %s" % (where, entry.name, entry.fixture, e)
    if n_sets and entry.sets is None:
        return ("%s: %s is a dynamic-shape case with %d shape sets: name the ones to run "
                "(sets=%s)" % (where, entry.name, n_sets, ",".join(str(k) for k in range(n_sets))))
    if not n_sets and entry.sets is not None:
        return "%s: %s has no shape sets (case.json): drop sets=" % (where, entry.name)
    if entry.sets is not None and max(entry.sets) >= n_sets:
        return "%s: %s has shape sets 0..%d only" % (where, entry.name, n_sets - 1)
    return None


class E2ETest(lit.formats.ShTest):
    """ShTest for the files of the directory, plus the entries of `manifest` (a source path)."""

    def __init__(self, manifest, execute_external=False, extra_substitutions=[], preamble_commands=[]):
        super(E2ETest, self).__init__(execute_external, extra_substitutions, preamble_commands)
        self.manifest = os.path.normpath(manifest)
        self.manifest_dir = os.path.dirname(self.manifest)
        self.entries = parse_manifest(self.manifest)

    def _entry_tests(self, testSuite, manifest_in_suite, localConfig, entries):
        for entry in entries:
            test = lit.Test.Test(testSuite, manifest_in_suite + (entry.name,), localConfig,
                                 file_path=self.manifest)
            test.attn_e2e_entry = entry
            yield test

    def getTestsForPath(self, testSuite, path_in_suite, litConfig, localConfig):
        # The manifest named directly (lit build/test/e2e/models.txt): all of its entries.
        if os.path.normpath(testSuite.getSourcePath(path_in_suite)) == self.manifest:
            for t in self._entry_tests(testSuite, path_in_suite, localConfig, self.entries):
                yield t
            return
        for t in super(E2ETest, self).getTestsForPath(testSuite, path_in_suite, litConfig, localConfig):
            yield t

    def getTestsInDirectory(self, testSuite, path_in_suite, litConfig, localConfig):
        source_path = os.path.normpath(testSuite.getSourcePath(path_in_suite))
        # The files of the directory as ShTest finds them; the manifest itself is not a test file.
        for filename in sorted(os.listdir(source_path)):
            filepath = os.path.join(source_path, filename)
            if os.path.isdir(filepath) or os.path.normpath(filepath) == self.manifest:
                continue
            for t in lit.formats.ShTest.getTestsForPath(self, testSuite, path_in_suite + (filename,),
                                                        litConfig, localConfig):
                yield t
        # An entry is found in its fixture directory (lit visits every subdirectory of test/e2e),
        # so that a run of all of test/e2e and a run of test/e2e/<fixture> both find it once.
        # Entries that have no fixture directory, or are malformed, come with test/e2e itself.
        manifest_in_suite = path_in_suite[:-1] + (os.path.basename(self.manifest),)
        if source_path == self.manifest_dir:
            manifest_in_suite = path_in_suite + (os.path.basename(self.manifest),)
            lost = [e for e in self.entries
                    if e.error or not os.path.isdir(os.path.join(self.manifest_dir, e.fixture))]
            for t in self._entry_tests(testSuite, manifest_in_suite, localConfig, lost):
                yield t
        elif os.path.dirname(source_path) == self.manifest_dir:
            mine = [e for e in self.entries
                    if not e.error and e.fixture == os.path.basename(source_path)]
            for t in self._entry_tests(testSuite, manifest_in_suite, localConfig, mine):
                yield t

    def execute(self, test, litConfig):
        entry = getattr(test, "attn_e2e_entry", None)
        if entry is None:
            return super(E2ETest, self).execute(test, litConfig)
        return execute_entry(test, litConfig, entry, self.execute_external, self.extra_substitutions)


class _AtFile(object):
    """What lit.TestRunner.getDefaultSubstitutions reads of a test, with another source path."""

    def __init__(self, test, path):
        self.config = test.config
        self.path = path

    def getSourcePath(self):
        return self.path


def execute_entry(test, litConfig, entry, use_external_sh, extra_substitutions):
    """lit.TestRunner.executeShTest for a script that comes from a manifest entry instead of the
    RUN: lines of a file."""
    Test = lit.Test
    if test.config.unsupported:
        return Test.Result(Test.UNSUPPORTED, "Test is unsupported")
    if entry.error:
        return Test.Result(Test.UNRESOLVED, entry.error)
    test.requires += entry.requires
    missing = test.getMissingRequiredFeatures()
    if missing:
        return Test.Result(Test.UNSUPPORTED, "Test requires the following unavailable features: %s"
                           % ", ".join(missing))
    if litConfig.noExecute:
        return Test.Result(Test.PASS)
    manifest = test.getFilePath()
    where = "%s line %d" % (os.path.basename(manifest), entry.line)
    script = [lit.TestRunner.buildPdbgCommand("%s, %s" % (where, entry.name), c)
              for c in entry.commands()]
    tmpDir, tmpBase = lit.TestRunner.getTempPaths(test)
    substitutions = list(extra_substitutions)
    # %s is the manifest and %S its directory, test/e2e (the test's own source path,
    # .../models.txt/<name>, is not a file).
    substitutions += lit.TestRunner.getDefaultSubstitutions(_AtFile(test, manifest), tmpDir, tmpBase,
                                                            normalize_slashes=use_external_sh)
    conditions = {feature: True for feature in test.config.available_features}
    script = lit.TestRunner.applySubstitutions(script, substitutions, conditions,
                                               recursion_limit=test.config.recursiveExpansionLimit)
    if use_external_sh:
        script = [lit.TestRunner._expandLateSubstitutionsExternal(c) for c in script]
    return lit.TestRunner._runShTest(test, litConfig, use_external_sh, script, tmpBase)
