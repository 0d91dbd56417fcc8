#!/usr/bin/env python3
"""Runs the Python unit tests in this folder (standard library unittest) and prints one
line per case in the form tests/run-all.sh counts: "ok - NAME", "not ok - NAME: why",
"skip - NAME: reason", after a plan line "1..N". Exit status 0 when every case passed
or was skipped, 1 otherwise (also when a test module cannot be imported)."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def cases(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from cases(t)
        else:
            yield t


class LineResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.bad = 0

    @staticmethod
    def name(test):
        return test.id().split(".", 1)[-1]

    @staticmethod
    def why(err):
        exc = err[1]
        text = str(exc).strip().splitlines()
        return (type(exc).__name__ + (": " + text[-1] if text else ""))[:300]

    def addSuccess(self, test):
        print(f"ok - {self.name(test)}", flush=True)

    def addFailure(self, test, err):
        self.bad += 1
        print(f"not ok - {self.name(test)}: {self.why(err)}", flush=True)
        print(self._exc_info_to_string(err, test), file=sys.stderr)

    def addError(self, test, err):
        self.addFailure(test, err)

    def addSkip(self, test, reason):
        print(f"skip - {self.name(test)}: {reason}", flush=True)

    def addExpectedFailure(self, test, err):
        self.addSuccess(test)

    def addUnexpectedSuccess(self, test):
        self.bad += 1
        print(f"not ok - {self.name(test)}: passed but was expected to fail", flush=True)


def main():
    sys.path.insert(0, HERE)
    suite = unittest.defaultTestLoader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    tests = list(cases(suite))
    print(f"1..{len(tests)}", flush=True)
    result = LineResult()
    for t in tests:
        t(result)
    # a module that does not import shows up as a failed case of unittest's own
    return 1 if result.bad else 0


if __name__ == "__main__":
    sys.exit(main())
