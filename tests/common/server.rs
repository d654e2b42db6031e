//! A real `terriens serve` process for tests: started on a free port, killed with SIGKILL or
//! stopped with SIGTERM.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_terriens");

/// What the server logs once every route is served.
pub const READY_LINE: &str = "ready: serving every route";

pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    /// Everything the server logged so far.
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// `terriens serve --addr 127.0.0.1:0 ARGS…` with extra environment variables; waits until
    /// it is ready (listening, data loaded).
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Server {
        Server::start_until(args, env, READY_LINE)
    }

    /// `terriens serve …`; waits until it listens (it may still be loading: 503).
    pub fn start_listening(args: &[&str], env: &[(&str, &str)]) -> Server {
        Server::start_until(args, env, "listening on http://")
    }

    /// Waits for a log line holding `until` (after the listening line).
    fn start_until(args: &[&str], env: &[(&str, &str)], until: &'static str) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info,tower_http=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("the terriens binary starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            // The server listens at once and answers 503 while it loads: report the address
            // once it says it is ready.
            let mut addr = String::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(i) = line.find("listening on http://") {
                    let rest = &line[i + "listening on http://".len()..];
                    addr = rest.split_whitespace().next().unwrap_or("").to_string();
                }
                if line.contains(until) {
                    let _ = tx.send(addr.clone());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(a) => a.parse().expect("a socket address"),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "the server did not start; its log:\n{}",
                    log.lock().unwrap().join("\n")
                );
            }
        };
        Server { child, addr, log }
    }

    /// SIGKILL, as a crash or a power cut of the process.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for a graceful exit; returns whether it exited successfully.
    pub fn stop(&mut self) -> bool {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().map(|s| s.success()).unwrap_or(false)
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

/// `terriens keys add --role ROLE [--partners] --keys FILE`, returning the printed key.
pub fn add_key(keys: &Path, role: &str, partners: bool) -> String {
    let mut cmd = Command::new(BIN);
    cmd.args(["keys", "add", "--role", role, "--keys"])
        .arg(keys);
    if partners {
        cmd.arg("--partners");
    }
    let out = cmd.output().expect("terriens keys add runs");
    assert!(
        out.status.success(),
        "keys add failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
