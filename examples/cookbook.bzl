"""The targets of one cookbook pair: before/after libraries and binaries, and
the equivalence test."""

_COMMON = [
    "//third_party:absl",
    "//third_party:numpy",
    "//third_party:tensorflow",
]

def cookbook_pair(name, before_deps = [], after_deps = [], test_deps = [], size = "small"):
    """Declares :before_lib, :after_lib, :before, :after, :equivalence_test.

    Args:
      name: The pattern (the package's own py_library, for its __init__.py).
      before_deps: Extra deps of before.py.
      after_deps: Extra deps of after.py.
      test_deps: Extra deps of equivalence_test.py.
      size: The test's size.
    """
    native.py_library(
        name = name,
        srcs = ["__init__.py"],
        deps = ["//examples"],
    )
    native.py_library(
        name = "before_lib",
        srcs = ["before.py"],
        deps = [":" + name] + _COMMON + before_deps,
    )
    native.py_library(
        name = "after_lib",
        srcs = ["after.py"],
        deps = [":" + name] + _COMMON + after_deps,
    )
    native.py_binary(
        name = "before",
        srcs = ["before.py"],
        deps = [":before_lib"],
    )
    native.py_binary(
        name = "after",
        srcs = ["after.py"],
        deps = [":after_lib"],
    )
    native.py_test(
        name = "equivalence_test",
        size = size,
        srcs = ["equivalence_test.py"],
        deps = [":after_lib", ":before_lib"] + _COMMON + test_deps,
    )
