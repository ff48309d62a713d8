//! The `authql` binary itself: configuration errors, development secrets,
//! logs free of secrets, durability, the commands besides `serve`, and the
//! README's walk-through against the binary.

#[path = "../api/db.rs"]
mod db;
#[path = "../api/passkey_device.rs"]
#[allow(dead_code)]
mod passkey_device;
#[path = "../api/scripted_relay.rs"]
#[allow(dead_code)]
mod scripted_relay;
#[path = "../api/smtp.rs"]
#[allow(dead_code)]
mod smtp;
#[path = "../api/smtp_session.rs"]
#[allow(dead_code)]
mod smtp_session;
#[path = "../api/tls.rs"]
#[allow(dead_code)]
mod tls;
#[path = "../api/webhook_receiver.rs"]
#[allow(dead_code)]
mod webhook_receiver;

mod commands;
mod config;
mod mail_kill;
mod readme;
mod running;
mod server;
mod shutdown;
mod webhooks_kill;

use std::process::Command;

pub const PASSWORD: &str = "Correct-Horse-Battery-Staple-42";
pub const SECRET_KEY: &str = "cli-test-master-key-0123456789-abcdefghij";

pub fn authql(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authql"));
    // A clean environment: only what each test sets (and PATH).
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(dir);
    cmd.env("DATA_DIR", dir.join("data")).env("LISTEN_ADDR", "127.0.0.1:0");
    cmd.env("PASSWORD_HASH_MEMORY_KIB", "256")
        .env("PASSWORD_HASH_ITERATIONS", "1")
        // Tests talk to loopback only.
        .env("PWNED_PASSWORDS_URL", "off");
    cmd
}

/// Runs the binary expecting it to refuse to start; returns its stderr.
pub fn refuses(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "exit code; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stderr).unwrap()
}
