//! A guest that speaks upstream vAccel's agent protocol (ttrpc `AgentService`), as guests
//! built with upstream's `vaccel-rpc-client` do — to check that an agent serves them. Its
//! output matches the C examples' (`classify`, `torch_inference`), so the VM test compares
//! it with the same work done in-process on the host.
//!
//! ```text
//! ttrpc_guest [--address ADDR] classify IMAGE
//! ttrpc_guest [--address ADDR] model-run MODEL.onnx INPUT.f32 LABELS.txt
//! ttrpc_guest [--address ADDR] bench CALLS     # UpdateSession round trips: p50 p99 (µs)
//! ```
//!
//! `ADDR` as upstream's guests take it (`vsock://2:2048`, `unix:///path`, `tcp://h:p`);
//! default: `VACCEL_RPC_ADDRESS`, else upstream's `vsock://2:2048`.

use std::process::ExitCode;
use std::time::Duration;
use vaccel_ttrpc::client::CallError;
use vaccel_ttrpc::pb::vaccel::{image, resource, session, tflite, torch};

type Client = vaccel_ttrpc::client::Client<vaccel_transport::Stream>;

fn connect(address: &str) -> Result<Client, String> {
    let addr: vaccel_transport::Address = address.parse().map_err(|e| format!("{e}"))?;
    let s = vaccel_transport::connect(&addr, Duration::from_secs(10))
        .map_err(|e| format!("connecting to {address}: {e}"))?;
    s.set_timeout(Some(Duration::from_secs(300)))
        .map_err(|e| e.to_string())?;
    Ok(Client::new(s))
}

fn new_session(c: &mut Client) -> Result<i64, CallError> {
    let r: session::CreateResponse =
        c.call("CreateSession", &session::CreateRequest { flags: 0 })?;
    Ok(r.session_id)
}

fn read(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("Could not read {path}: {e}"))
}

fn classify(c: &mut Client, image_path: &str) -> Result<(), String> {
    let image = read(image_path)?;
    let fail = |e: CallError| format!("Could not run op: {} ({e})", e.vaccel_code());
    let session_id = new_session(c).map_err(fail)?;
    let r: image::Response = c
        .call("ImageClassification", &image::Request { session_id, image })
        .map_err(fail)?;
    let text = r.tags.split(|b| *b == 0).next().unwrap_or_default();
    println!("classification tags: {}", String::from_utf8_lossy(text));
    Ok(())
}

fn label(path: &str, index: usize) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.lines().nth(index).map(str::to_string))
        .unwrap_or_else(|| format!("class {index}"))
}

fn model_run(c: &mut Client, model: &str, input: &str, labels: &str) -> Result<(), String> {
    let fail = |what: &'static str| {
        move |e: CallError| format!("{what} failed: {} ({e})", e.vaccel_code())
    };
    let data = read(model)?;
    let input = read(input)?;
    let n = 3 * 224 * 224 * 4;
    if input.len() < n {
        return Err(format!("Could not read {} floats from the input", n / 4));
    }
    let input = input[..n].to_vec();
    let session_id = new_session(c).map_err(fail("session"))?;
    let name = std::path::Path::new(model)
        .file_name()
        .map_or("model".into(), |n| n.to_string_lossy().into_owned());
    let r: resource::RegisterResponse = c
        .call(
            "RegisterResource",
            &resource::RegisterRequest {
                blobs: vec![resource::Blob {
                    r#type: resource::BlobType::Buffer as i32,
                    name,
                    size: data.len() as u32,
                    data,
                }],
                resource_type: resource::ResourceType::Model as i32,
                session_id,
                ..Default::default()
            },
        )
        .map_err(fail("register"))?;
    let model_id = r.resource_id;
    let _: vaccel_ttrpc::pb::vaccel::empty::Empty = c
        .call(
            "TorchModelLoad",
            &torch::ModelLoadRequest {
                session_id,
                model_id,
            },
        )
        .map_err(fail("model load"))?;
    let run = |c: &mut Client, dims: Vec<i64>, data: Vec<u8>| {
        c.call::<_, torch::ModelRunResponse>(
            "TorchModelRun",
            &torch::ModelRunRequest {
                session_id,
                model_id,
                run_options: None,
                in_tensors: vec![torch::Tensor {
                    data,
                    dims,
                    r#type: torch::DataType::Float as i32,
                }],
                nr_out_tensors: 1,
            },
        )
    };
    let r = run(c, vec![1, 3, 224, 224], input.clone()).map_err(fail("model run"))?;
    let out = r.out_tensors.first().ok_or("model run: no output")?;
    let logits: Vec<f32> = out
        .data
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let classes = if out.dims.len() == 2 { out.dims[1] } else { 0 };
    let mut best = 0;
    for i in 1..classes.max(0) as usize {
        if logits[i] > logits[best] {
            best = i;
        }
    }
    println!(
        "torch output: {} dims [{}, {}], float={}",
        out.dims.len(),
        out.dims.first().copied().unwrap_or(0),
        classes,
        i32::from(out.r#type == torch::DataType::Float as i32)
    );
    println!("torch top-1: {}", label(labels, best));

    // The same model through the TFLite entry point gives the same answer.
    let r: tflite::ModelRunResponse = c
        .call(
            "TensorflowLiteModelRun",
            &tflite::ModelRunRequest {
                session_id,
                model_id,
                in_tensors: vec![tflite::Tensor {
                    data: input,
                    dims: vec![1, 3, 224, 224],
                    r#type: tflite::DataType::Float32 as i32,
                }],
                nr_out_tensors: 1,
            },
        )
        .map_err(fail("tflite run"))?;
    let same = r.out_tensors.first().is_some_and(|t| t.data == out.data);
    let st = r.status.map_or(9, |s| s.code);
    println!(
        "tflite agrees: {} (status {st})",
        if same { "yes" } else { "no" }
    );

    // A wrong input shape is refused, not crashed on.
    let bad = run(c, vec![1, 3, 8, 8], vec![0; 3 * 8 * 8 * 4]);
    let code = bad.err().map(|e| e.vaccel_code());
    println!(
        "wrong shape: {}",
        if code == Some(vaccel_plugin::code::EINVAL) {
            "VACCEL_EINVAL"
        } else {
            "other"
        }
    );
    Ok(())
}

/// CALLS UpdateSession round trips (the smallest RPC any agent serves): p50 and p99, µs.
fn bench(c: &mut Client, calls: &str) -> Result<(), String> {
    let calls: usize = calls
        .parse()
        .map_err(|_| format!("{calls:?} is not a count"))?;
    let fail = |e: CallError| e.to_string();
    let session_id = new_session(c).map_err(fail)?;
    let update = session::UpdateRequest {
        session_id,
        flags: 0,
    };
    let mut times = Vec::with_capacity(calls.max(10));
    for i in 0..calls.max(10) + 200 {
        let t0 = std::time::Instant::now();
        c.call::<_, vaccel_ttrpc::pb::vaccel::empty::Empty>("UpdateSession", &update)
            .map_err(fail)?;
        if i >= 200 {
            times.push(t0.elapsed().as_secs_f64() * 1e6);
        }
    }
    times.sort_by(f64::total_cmp);
    let at = |p: f64| times[((times.len() - 1) as f64 * p) as usize];
    println!("{:.1} {:.1}", at(0.5), at(0.99));
    Ok(())
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut address = std::env::var("VACCEL_RPC_ADDRESS")
        .unwrap_or_else(|_| vaccel_transport::DEFAULT_ADDRESS.into());
    if args.first().map(String::as_str) == Some("--address") && args.len() > 1 {
        address = args.remove(1);
        args.remove(0);
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = connect(&address).and_then(|mut c| match argv.as_slice() {
        ["classify", image] => classify(&mut c, image),
        ["model-run", model, input, labels] => model_run(&mut c, model, input, labels),
        ["bench", calls] => bench(&mut c, calls),
        _ => Err(
            "usage: ttrpc_guest [--address ADDR] classify IMAGE | model-run MODEL INPUT.f32 LABELS"
                .into(),
        ),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
