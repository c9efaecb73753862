//! Function binaries started by a test as plain HTTP servers on a free 127.0.0.1 port, with the
//! stack's settings plus the test's own. Each is killed when its handle is dropped.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// A running function binary.
pub struct Spawned {
    child: Child,
    pub url: String,
}

impl Spawned {
    /// Process id of the function, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

/// Returns the repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Builds the workspace binaries (a no-op when they are current), then starts `target/debug/<name>`
/// with `settings` added to the environment, and waits until `/healthz` responds.
pub async fn start_function(name: &str, settings: &[(&str, &str)]) -> Spawned {
    let root = repo_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "-q", "--workspace", "--bins"])
        .current_dir(&root)
        .status()
        .await;
    assert!(
        built.is_ok_and(|s| s.success()),
        "cargo build --workspace --bins failed"
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port on 127.0.0.1")
        .local_addr()
        .expect("the listener has an address")
        .port();
    let mut command = Command::new(root.join("target/debug").join(name));
    command
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env_remove("FN_LISTENER")
        .env("BIND_ADDR", "127.0.0.1")
        .env("PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    for (key, value) in settings {
        command.env(key, value);
    }
    let spawned = Spawned {
        child: command
            .spawn()
            .unwrap_or_else(|e| panic!("target/debug/{name} does not start: {e}")),
        url: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    for _ in 0..200 {
        if client
            .get(format!("{}/healthz", spawned.url))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return spawned;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{name} did not answer at {} within 10 s", spawned.url);
}
