"""A libFuzzer target: a cc_binary built only by tools/fuzz (--config=fuzz)."""

def herald_fuzzer(name, srcs, deps = [], **kwargs):
    native.cc_binary(
        name = name,
        srcs = srcs,
        deps = deps,
        linkopts = ["-fsanitize=fuzzer"],
        # Only clang with libFuzzer links it: left out of //... (gcc).
        tags = ["manual", "fuzzer"],
        testonly = True,
        **kwargs
    )
