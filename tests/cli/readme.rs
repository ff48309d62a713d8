//! The README's walk-through runs as pasted: its shell blocks, in order, in
//! one bash against a fresh server, each block's output as its comment shows.
//!
//! It needs SQLite only (the walk-through serves with the defaults of
//! `cargo run --release`), so it ignores TEST_DATABASE_URL and runs the same on
//! every backend run of `cargo test --workspace`; it takes about a second.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::authql;
use crate::server::Server;

const SECTION: &str = "## A walk-through with curl";
/// The address the README serves on; the test's server listens elsewhere.
const README_ADDR: &str = "127.0.0.1:8080";
/// Who and what the walk-through signs up.
const EMAIL: &str = "ann@example.com";
const PASSWORD: &str = "Correct-Horse-Battery-Staple-42";

/// One shell block of the walk-through.
struct Block {
    script: String,
    /// The block's closing `# …` lines: what it prints, `…` standing for
    /// part of a value.
    expected: Vec<String>,
}

/// The ```sh and ```bash blocks of the walk-through section, in order.
fn walk_through(readme: &str) -> Vec<Block> {
    let start = readme.find(SECTION).expect("the README has a walk-through");
    let section = &readme[start + SECTION.len()..];
    let section = section.find("\n## ").map_or(section, |end| &section[..end]);
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in section.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh" | "```bash") => current = Some(Vec::new()),
            (Some(lines), "```") => {
                let expected = lines
                    .iter()
                    .rev()
                    .take_while(|l| l.starts_with("# "))
                    .map(|l| l["# ".len()..].to_owned())
                    .collect::<Vec<_>>();
                blocks.push(Block {
                    script: lines.join("\n"),
                    expected: expected.into_iter().rev().collect(),
                });
                current = None;
            }
            (Some(lines), _) => lines.push(line),
            (None, _) => {}
        }
    }
    blocks
}

/// Whether `text` is `pattern`, each `…` in it standing for characters
/// within one JSON value (no `"`).
fn matches(pattern: &str, text: &str) -> bool {
    let mut pieces = pattern.split('…');
    let first = pieces.next().unwrap_or_default();
    let Some(rest) = text.strip_prefix(first) else {
        return false;
    };
    fn tail<'a>(mut pieces: impl Iterator<Item = &'a str> + Clone, text: &str) -> bool {
        let Some(piece) = pieces.next() else {
            return text.is_empty();
        };
        // The gap ends where `piece` starts, at the latest at the next quote.
        let limit = text.find('"').unwrap_or(text.len());
        (0..=limit)
            .filter(|&i| text.is_char_boundary(i) && text[i..].starts_with(piece))
            .any(|i| tail(pieces.clone(), &text[i + piece.len()..]))
    }
    if pattern.contains('…') {
        tail(pieces, rest)
    } else {
        rest.is_empty()
    }
}

#[test]
fn the_matcher_takes_placeholders_for_parts_of_values_only() {
    let p = r#"{"a":"…","b":"x…y.png"}"#;
    assert!(matches(p, r#"{"a":"tok-1","b":"x/avatars/9y.png"}"#));
    assert!(matches(p, r#"{"a":"","b":"xy.png"}"#));
    assert!(!matches(p, r#"{"a":"t","c":"u","b":"xy.png"}"#));
    assert!(!matches(p, r#"{"a":"t","b":"xy.jpg"}"#));
    assert!(matches("# 200", "# 200") && !matches("200", "2000"));
}

/// Bash with nothing of this machine's environment but PATH (no proxies, no
/// curlrc); what it prints goes to files in `out`, so no pipe fills up.
fn bash(dir: &Path, out: &Path) -> std::process::Child {
    let file = |name: &str| Stdio::from(std::fs::File::create(out.join(name)).unwrap());
    Command::new("bash")
        .args(["-euo", "pipefail"])
        .arg(out.join("script.sh"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(file("stdout"))
        .stderr(file("stderr"))
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn the_readme_walk_through_runs_as_pasted() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
    let blocks = walk_through(&readme);
    assert!(blocks.len() >= 5, "the walk-through has its blocks");

    // A fresh directory as the repository's root: the server's ./data, and
    // the repository's assets for the files the blocks upload.
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(repo.join("assets"), dir.path().join("assets")).unwrap();
    // The links the server mails must name the port it listens on, as with
    // 8080, so the port is chosen here (another process taking it in between
    // would stop the start with "address in use" in the log).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut cmd = authql(dir.path());
    cmd.env("LISTEN_ADDR", &addr);
    let server = Server::start(cmd);

    // One shell, so variables carry from block to block; each block's output in its own file.
    let out = dir.path().join("walk");
    std::fs::create_dir(&out).unwrap();
    let mut script = String::new();
    for (i, block) in blocks.iter().enumerate() {
        let body = block.script.replace(README_ADDR, &addr);
        writeln!(script, "echo {i} > walk/current\n{{\n{body}\n}} > walk/{i}.out").unwrap();
    }
    script.push_str("echo done > walk/current\nprintf '%s\\n' \"$ACCESS\" \"$REFRESH\" > walk/tokens\n");
    std::fs::write(out.join("script.sh"), &script).unwrap();
    let mut child = bash(dir.path(), &out);
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap_or_default();
    let mut report = String::new();
    for (i, block) in blocks.iter().enumerate() {
        write!(
            report,
            "\n--- block {i}:\n{}\n--- printed:\n{}",
            block.script,
            read(&format!("{i}.out"))
        )
        .unwrap();
    }
    write!(report, "\n--- stderr:\n{}", read("stderr")).unwrap();

    // What the walk-through promises: Ann's address is confirmed, she can log in.
    let r = server
        .gql(
            "mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { auth { accessToken } } }",
            json!({ "e": EMAIL, "p": PASSWORD }),
            None,
        )
        .await;
    assert!(
        r["data"]["login"]["auth"]["accessToken"].is_string(),
        "after the walk-through the login works: {r}{report}"
    );
    assert!(
        status.success() && read("current").trim() == "done",
        "every block runs (the last one started: {}){report}",
        read("current").trim()
    );
    for (i, block) in blocks.iter().enumerate().filter(|(_, b)| !b.expected.is_empty()) {
        let printed = read(&format!("{i}.out"));
        let printed: Vec<&str> = printed.lines().map(str::trim_end).collect();
        let expected: Vec<String> = block.expected.iter().map(|l| l.replace(README_ADDR, &addr)).collect();
        assert!(
            printed.len() == expected.len() && expected.iter().zip(&printed).all(|(e, p)| matches(e, p)),
            "block {i} prints what its comment says:\n{}\n--- printed:\n{}{report}",
            expected.join("\n"),
            printed.join("\n")
        );
    }

    // And the walk-through's last step, logging out, ended its session.
    let tokens = read("tokens");
    let mut tokens = tokens.lines();
    let (access, refresh) = (tokens.next().unwrap_or_default(), tokens.next().unwrap_or_default());
    let me = server.gql("{ me { email } }", json!({}), Some(access)).await;
    assert_eq!(me["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{me}");
    let r = server
        .gql(
            "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }",
            json!({ "t": refresh }),
            None,
        )
        .await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "INVALID_TOKEN", "{r}");
}
