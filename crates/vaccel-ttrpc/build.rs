//! Generate the protobuf messages from proto/ (protox parses the .proto files in pure
//! Rust; prost writes the types).

fn main() {
    let files = [
        "ttrpc.proto",
        "google/rpc/status.proto",
        "vaccel.proto",
        "empty.proto",
        "session.proto",
        "resource.proto",
        "image.proto",
        "genop.proto",
        "profiling.proto",
        "tf.proto",
        "tflite.proto",
        "torch.proto",
        "agent.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed=proto/{f}");
    }
    let fds = match protox::compile(files, ["proto"]) {
        Ok(fds) => fds,
        Err(e) => panic!("proto/: {e}"),
    };
    // ttrpc's envelopes carry the messages as `Bytes`: a request's message is a view of
    // the received frame, and a reply is framed without copying it.
    if let Err(e) = prost_build::Config::new()
        .bytes([".ttrpc"])
        .compile_fds(fds)
    {
        panic!("generating the protobuf messages: {e}");
    }
}
