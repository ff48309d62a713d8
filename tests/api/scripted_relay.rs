//! An SMTP relay whose answer to each message is scripted: it takes the
//! message whole, keeps it, then answers what the script says, or never
//! answers (a relay that stalls after taking the data).

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The answer to the `n`th message taken (from 1): a reply line, or `None` to stall.
pub type Script = fn(usize) -> Option<&'static [u8]>;

/// A running relay; `taken` holds every message it read, answered or not.
pub struct ScriptedRelay {
    pub url: String,
    pub taken: Arc<Mutex<Vec<String>>>,
}

impl ScriptedRelay {
    pub async fn start(script: Script) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("smtp://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let taken = Arc::new(Mutex::new(Vec::new()));
        let keep = taken.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, keep.clone(), script));
            }
        });
        Self { url, taken }
    }

    /// The messages taken so far.
    pub fn taken(&self) -> Vec<String> {
        self.taken.lock().unwrap().clone()
    }
}

/// The Message-ID header of a raw message, without its angle brackets.
pub fn message_id(raw: &str) -> Option<String> {
    raw.lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("message-id").then(|| value.trim().to_owned())
        })
        .map(|id| id.trim_start_matches('<').trim_end_matches('>').to_owned())
}

async fn session(stream: TcpStream, taken: Arc<Mutex<Vec<String>>>, script: Script) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let _ = write.write_all(b"220 scripted ESMTP\r\n").await;
    while let Ok(Some(line)) = lines.next_line().await {
        let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
        let answer: &[u8] = match verb.as_str() {
            "DATA" => {
                let _ = write.write_all(b"354 go on\r\n").await;
                let mut message = String::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    if line == "." {
                        break;
                    }
                    message.push_str(&line);
                    message.push('\n');
                }
                let n = {
                    let mut taken = taken.lock().unwrap();
                    taken.push(message);
                    taken.len()
                };
                match script(n) {
                    Some(answer) => answer,
                    None => std::future::pending().await,
                }
            }
            "QUIT" => {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => b"250 ok\r\n",
        };
        if write.write_all(answer).await.is_err() {
            return;
        }
    }
}
