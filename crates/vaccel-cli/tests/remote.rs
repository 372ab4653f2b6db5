//! Remote execution end to end: a real `vaccel-agent` process, and the same `vaccel`
//! commands run in-process and through the rpc plugin over unix and tcp sockets.

#[path = "../../vaccel/tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Agent {
    child: Child,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent_bin() -> PathBuf {
    support::build_bin("vaccel-agent", "vaccel-agent")
}

/// Start an agent on `address` and wait until it accepts connections.
fn agent(address: &str, extra: &[&str]) -> Agent {
    let mut child = Command::new(agent_bin())
        .args(["-a", address])
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .expect("agent starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    let ready = |a: &str| -> bool {
        if let Some(p) = a.strip_prefix("unix://") {
            std::os::unix::net::UnixStream::connect(p).is_ok()
        } else {
            std::net::TcpStream::connect(a.trim_start_matches("tcp://")).is_ok()
        }
    };
    while !ready(address) {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("agent exited early: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "agent did not start listening on {address}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Agent { child }
}

fn vaccel(args: &[&str], remote: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vaccel"));
    c.args(args)
        .env_remove("VACCEL_PLUGINS")
        .env_remove("VACCEL_LOG_LEVEL");
    if let Some(addr) = remote {
        c.env("VACCEL_PLUGINS", support::plugin_so("rpc"))
            .env("VACCEL_RPC_ADDRESS", addr);
    }
    c.output().expect("vaccel runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Classification JSON without the timings.
fn classify_json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for item in v.as_array_mut().unwrap() {
        item.as_object_mut().unwrap().remove("ms");
    }
    v
}

#[test]
fn same_answers_in_process_and_through_the_agent() {
    let assets = support::assets();
    let dir = tempfile::tempdir().unwrap();
    let lib = support::mytestlib(dir.path());
    let sock = format!("unix://{}", dir.path().join("agent.sock").display());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tcp = format!("tcp://127.0.0.1:{port}");
    let allow = format!("{lib}:mytestfunc");
    let _unix_agent = agent(&sock, &["--allow-exec", &allow]);
    let _tcp_agent = agent(&tcp, &["--allow-exec", &allow]);

    let photo = |n: &str| assets.join("images").join(n).to_string_lossy().into_owned();
    let classify = [
        "classify",
        &photo("chelsea.png"),
        &photo("coffee.png"),
        &photo("rocket.jpg"),
        "--top",
        "5",
        "--json",
    ];
    let local = classify_json(&vaccel(&classify, None));
    for remote in [&sock, &tcp] {
        assert_eq!(
            classify_json(&vaccel(&classify, Some(remote))),
            local,
            "classify via {remote}"
        );

        let out = vaccel(
            &["sgemm", "70", "50", "30", "--check", "-n", "1"],
            Some(remote),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("on plugin rpc"),
            "{}",
            text(&out.stdout)
        );

        let out = vaccel(
            &["exec", &lib, "mytestfunc", "--in", "i32:21", "--out", "i32"],
            Some(remote),
        );
        assert_eq!(
            text(&out.stdout).trim(),
            "out[0] i32: 42",
            "{}",
            text(&out.stderr)
        );

        let out = vaccel(&["noop", "-n", "100"], Some(remote));
        assert!(
            text(&out.stdout).contains("ran 100 call(s) on plugin rpc"),
            "{}",
            text(&out.stderr)
        );
    }

    let page = photo("page.png");
    let det = |remote| {
        let png = dir.path().join("boxes.png");
        let out = vaccel(&["detect", &page, "--out", png.to_str().unwrap()], remote);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
            .lines()
            .skip(1)
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(det(Some(&sock)), det(None), "detection boxes via the agent");
}

#[test]
fn the_agent_runs_only_what_the_operator_allows() {
    let dir = tempfile::tempdir().unwrap();
    let lib = support::mytestlib(dir.path());
    let sock = format!("unix://{}", dir.path().join("agent.sock").display());
    let _agent = agent(&sock, &[]);
    let out = vaccel(
        &["exec", &lib, "mytestfunc", "--in", "i32:21", "--out", "i32"],
        Some(&sock),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is not allowed by the operator"),
        "{}",
        text(&out.stderr)
    );
    let out = vaccel(
        &[
            "exec",
            &lib,
            "mytestfunc",
            "--in",
            "i32:21",
            "--out",
            "i32",
            "--resource",
        ],
        Some(&sock),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("uploaded libraries is not allowed"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_unreachable_agent_is_a_clear_esess() {
    let dir = tempfile::tempdir().unwrap();
    let sock = format!("unix://{}", dir.path().join("nobody.sock").display());
    let out = vaccel(&["noop"], Some(&sock));
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("cannot reach the agent") && err.contains("nobody.sock"),
        "{err}"
    );
}

#[test]
fn after_an_agent_restart_the_next_call_works() {
    let dir = tempfile::tempdir().unwrap();
    let sock = format!("unix://{}", dir.path().join("agent.sock").display());
    let first = agent(&sock, &[]);
    let client = Command::new(env!("CARGO_BIN_EXE_vaccel"))
        .args(["noop", "-n", "80", "--watch", "100"])
        .env("VACCEL_PLUGINS", support::plugin_so("rpc"))
        .env("VACCEL_RPC_ADDRESS", &sock)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Let a few calls succeed, take the agent away for a while, bring a new one up.
    std::thread::sleep(Duration::from_millis(800));
    drop(first);
    std::thread::sleep(Duration::from_millis(600));
    let _second = agent(&sock, &[]);
    let out = client.wait_with_output().unwrap();
    let lines: Vec<String> = text(&out.stdout).lines().map(String::from).collect();
    let first_err = lines
        .iter()
        .position(|l| l.contains("error"))
        .expect("some call failed while the agent was away");
    assert!(
        lines[..first_err].iter().any(|l| l.ends_with(": ok")),
        "calls before the restart: {lines:?}"
    );
    assert!(
        lines[first_err].contains("error 104"),
        "the failure is VACCEL_ESESS: {}",
        lines[first_err]
    );
    assert!(
        lines.last().unwrap().ends_with(": ok"),
        "calls after the restart work: {lines:?}"
    );
}
