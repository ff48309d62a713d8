//! Where mail goes: an SMTP server, or `.eml` files under DATA_DIR/outbox.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::MailConfig;
use crate::error::{AppError, AppResult};

/// A configured mail transport.
pub enum Transport {
    /// `timeout` bounds a whole delivery: lettre's own covers only the connect,
    /// so a server that stops answering mid-conversation would otherwise stall
    /// the outbox worker for good.
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        timeout: Duration,
    },
    Files(PathBuf),
}

impl Transport {
    /// SMTP when SMTP_URL is set, files otherwise.
    ///
    /// `smtp://host:port` is plain SMTP (for local sinks); credentials on an
    /// `smtp://` URL switch on STARTTLS (required) so they never cross the
    /// network in the clear; `smtps://` is TLS from the first byte. With
    /// SMTP_CA_FILE the TLS modes also trust that file's CA certificates.
    ///
    /// # Errors
    /// When the URL cannot be used (the message never repeats the URL, which may hold a password).
    pub fn new(cfg: &MailConfig, data_dir: &std::path::Path) -> AppResult<Self> {
        let Some(url) = &cfg.smtp_url else {
            return Ok(Self::Files(data_dir.join("outbox")));
        };
        let mut parsed = url::Url::parse(url.expose()).map_err(|_| AppError::internal("SMTP_URL is not a URL"))?;
        let has_tls_param = parsed.query_pairs().any(|(k, _)| k == "tls");
        if parsed.scheme() == "smtp" && parsed.password().is_some() && !has_tls_param {
            parsed.query_pairs_mut().append_pair("tls", "required");
        }
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(parsed.as_str()).map_err(|e| {
            AppError::internal(format!(
                "SMTP_URL cannot be used: {}",
                redact(&e.to_string(), url.expose())
            ))
        })?;
        if let Some(ca_file) = &cfg.ca_file
            && let Some(tls) = tls_trusting(&parsed, ca_file)?
        {
            builder = builder.tls(tls);
        }
        let transport = builder.timeout(Some(cfg.send_timeout)).build();
        Ok(Self::Smtp {
            transport,
            timeout: cfg.send_timeout,
        })
    }

    /// Whether mail is written to files (development without SMTP).
    pub fn is_files(&self) -> bool {
        matches!(self, Self::Files(_))
    }

    /// Sends one message.
    ///
    /// # Errors
    /// A short description of the failure, safe to store and log.
    pub async fn send(&self, id: uuid::Uuid, message: Message) -> Result<(), String> {
        match self {
            Self::Smtp { transport, timeout } => match tokio::time::timeout(*timeout, transport.send(message)).await {
                Ok(sent) => sent.map(|_| ()).map_err(|e| e.to_string()),
                Err(_) => Err(format!("the SMTP server did not finish within {timeout:?}")),
            },
            Self::Files(dir) => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| format!("creating {}: {e}", dir.display()))?;
                let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S");
                let path = dir.join(format!("{stamp}-{id}.eml"));
                tokio::fs::write(&path, message.formatted())
                    .await
                    .map_err(|e| format!("writing {}: {e}", path.display()))?;
                tracing::info!(path = %path.display(), "mail written to a file (no SMTP_URL set)");
                Ok(())
            }
        }
    }
}

/// The TLS mode `url` asks for, trusting the CA certificates in `ca_file`
/// besides the public roots; `None` for plain SMTP.
fn tls_trusting(url: &url::Url, ca_file: &Path) -> AppResult<Option<Tls>> {
    let file = ca_file.display();
    let pem =
        std::fs::read(ca_file).map_err(|e| AppError::internal(format!("SMTP_CA_FILE: cannot read {file}: {e}")))?;
    if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
        return Err(AppError::internal(format!(
            "SMTP_CA_FILE: {file} holds no PEM certificate"
        )));
    }
    let cert = Certificate::from_pem(&pem).map_err(|e| AppError::internal(format!("SMTP_CA_FILE: {file}: {e}")))?;
    let host = url.host_str().unwrap_or_default().to_owned();
    let params = TlsParameters::builder(host)
        .add_root_certificate(cert)
        .build_rustls()
        .map_err(|e| AppError::internal(format!("SMTP_CA_FILE: {e}")))?;
    let mode = url.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.into_owned());
    Ok(match (url.scheme(), mode.as_deref()) {
        ("smtps", _) => Some(Tls::Wrapper(params)),
        (_, Some("required")) => Some(Tls::Required(params)),
        (_, Some("opportunistic")) => Some(Tls::Opportunistic(params)),
        _ => None,
    })
}

/// Removes the URL (and so any password in it) from an error message.
fn redact(message: &str, url: &str) -> String {
    message.replace(url, "[SMTP_URL]")
}
