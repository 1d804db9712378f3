//! Node.js scripts the tests drive (real JavaScript clients and SDKs): their packages
//! installed from the lock file on first use, their stdout read line by line.

use std::path::Path;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// Installs the packages of `dir` from its lock file once, if they are not there yet.
fn ensure_packages(dir: &Path) {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if dir.join("node_modules/.package-lock.json").is_file() {
        return;
    }
    let status = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .expect("npm (Node.js 20 or later) is needed for these tests");
    assert!(status.success(), "npm ci in {} failed", dir.display());
}

/// A node script, its stdout read line by line, its stderr kept in a file.
pub struct Script {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    log: tempfile::NamedTempFile,
}

impl Script {
    pub fn start(dir: &Path, name: &str, env: &[(&str, &str)]) -> Script {
        ensure_packages(dir);
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut child = Command::new("node")
            .arg(dir.join(name))
            .envs(env.iter().copied())
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log.reopen().unwrap())
            .kill_on_drop(true)
            .spawn()
            .expect("node is needed for these tests");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Script { child, lines, log }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// The next stdout line as (word, rest); an `ERROR` line fails the test.
    pub async fn next(&mut self) -> (String, String) {
        let line = tokio::time::timeout(Duration::from_secs(60), self.lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("no answer within a minute; log:\n{}", self.log()))
            .unwrap()
            .unwrap_or_else(|| panic!("the script ended; log:\n{}", self.log()));
        let (word, rest) = line.split_once(' ').unwrap_or((&line, ""));
        if word == "ERROR" {
            panic!("{rest}\nlog:\n{}", self.log());
        }
        (word.to_string(), rest.to_string())
    }

    pub async fn expect(&mut self, word: &str) -> String {
        let (w, rest) = self.next().await;
        assert_eq!(w, word, "{rest}\nlog:\n{}", self.log());
        rest
    }

    /// The next line's JSON, after `word`.
    pub async fn expect_json(&mut self, word: &str) -> serde_json::Value {
        let rest = self.expect(word).await;
        serde_json::from_str(&rest).unwrap_or_else(|e| panic!("{word} {rest}: {e}"))
    }

    pub async fn send(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        stdin.flush().await.unwrap();
    }
}
