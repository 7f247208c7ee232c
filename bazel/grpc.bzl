"""C++ code for a .proto file (messages and gRPC stubs) with Debian's protoc."""

def cc_grpc_proto_library(name, src, deps = [], visibility = None):
    """Generates <src>.pb.{h,cc} and <src>.grpc.pb.{h,cc} and a cc_library over them.

    `src` is a path relative to the workspace root, e.g. "proto/herald/v1/herald.proto";
    the generated headers are included with that same path.
    """
    base = src[:-len(".proto")]
    outs = [
        base.split("/")[-1] + ext
        for ext in [".pb.h", ".pb.cc", ".grpc.pb.h", ".grpc.pb.cc"]
    ]
    pkg = native.package_name()
    native.genrule(
        name = name + "_gen",
        srcs = [src.split("/")[-1]],
        outs = outs,
        cmd = ("/usr/bin/protoc -I. -I/usr/include " +
               "--plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin " +
               "--cpp_out=$(GENDIR) --grpc_out=$(GENDIR) " + src),
    )
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        deps = deps + [
            "//third_party/system:grpc++",
            "//third_party/system:protobuf",
        ],
        visibility = visibility,
    )
