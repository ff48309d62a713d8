//! The authql command: `serve` (the default), `migrate`, `schema`, `keygen` and `create-admin`.

use std::process::ExitCode;

use authql::config::listing;
use authql::config::{LogFormat, Settings};
use authql::startup::Application;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

// glibc's malloc was a fifth of a refresh's CPU (bench/README.md, "The
// allocator"): many small, short-lived allocations from many threads.
// Without transparent huge pages (the `no_thp` feature) mimalloc's arenas
// would add 11 MiB to an idle server's 21.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "authql",
    version,
    about = "Self-hosted authentication server with a GraphQL API"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    settings: Settings,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Rotate the token signing key (published now, signing in 10 minutes); `--secret` prints a new SECRET_KEY instead.
    Keygen {
        /// Print a random master key for SECRET_KEY; touches nothing.
        #[arg(long)]
        secret: bool,
        /// Sign with the new key at once (after a compromise); offline verifiers may reject new tokens until they refetch the JWKS.
        #[arg(long)]
        now: bool,
        /// With --now: remove every previous key from the JWKS and from verification (a leaked key); their tokens stop working.
        #[arg(long, requires = "now")]
        revoke_previous: bool,
    },
    /// Make EMAIL an administrator: promote its account, or create a confirmed
    /// one whose password is read from the first line of standard input.
    CreateAdmin {
        /// The administrator's email address.
        email: String,
    },
    /// Check the configuration as `serve` would, print it with secrets
    /// masked, and exit non-zero naming the first thing at fault.
    CheckConfig {
        /// Also connect to the database, Redis and SMTP.
        #[arg(long)]
        connect: bool,
    },
    /// Turn two-step verification off for EMAIL, whose owner lost both the
    /// authenticator and the recovery codes (check who they are first).
    ResetMfa {
        /// The account's email address.
        email: String,
    },
    /// Remove every passkey of EMAIL, whose owner lost one or had one
    /// stolen (check who they are first); its sessions end.
    RemovePasskeys {
        /// The account's email address.
        email: String,
    },
}

fn main() -> ExitCode {
    // A missing .env is normal; a broken one should not pass silently.
    let dotenv = match listing::load_dotenv() {
        Ok(dotenv) => dotenv,
        Err(e) => {
            eprintln!("authql: cannot read .env: {e}");
            return ExitCode::from(2);
        }
    };
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|matches| Ok((Cli::from_arg_matches(&matches)?, matches)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(e) if e.use_stderr() => {
            eprintln!("authql: configuration error: {}", one_line(&e));
            return ExitCode::from(2);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    match cli.command {
        Some(Command::Schema) => {
            print!("{}", authql::graphql::sdl());
            ExitCode::SUCCESS
        }
        Some(Command::Keygen { secret: true, .. }) => {
            println!("{}", authql::config::generate_secret());
            ExitCode::SUCCESS
        }
        Some(Command::CheckConfig { connect }) => {
            let settings = listing::listing(&Cli::command(), &matches, &dotenv);
            run(Some(Command::CheckConfig { connect }), cli.settings, &settings)
        }
        command => run(command, cli.settings, &[]),
    }
}

/// A clap error as one line that names the variable and what it accepts.
fn one_line(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    let first = e
        .to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_owned();
    match e.get(ContextKind::ValidValue) {
        Some(ContextValue::Strings(valid)) => format!("{first}; accepted: {}", valid.join(", ")),
        _ => first,
    }
}

/// Runs `command` with `settings`; `listed` is check-config's listing of them.
fn run(command: Option<Command>, settings: Settings, listed: &[String]) -> ExitCode {
    init_logging(settings.log_format);
    let config = match settings.resolve() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("authql: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("authql: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        match command {
            Some(Command::Migrate) => authql::commands::migrate(&config).await,
            Some(Command::Keygen {
                now, revoke_previous, ..
            }) => authql::commands::rotate_key(&config, now, revoke_previous).await,
            Some(Command::CreateAdmin { email }) => authql::commands::create_admin(&config, &email).await,
            Some(Command::ResetMfa { email }) => authql::commands::reset_mfa(&config, &email).await,
            Some(Command::RemovePasskeys { email }) => authql::commands::remove_passkeys(&config, &email).await,
            Some(Command::CheckConfig { connect }) => authql::commands::check_config(&config, connect, listed).await,
            _ => serve(config).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("authql: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,tokio_cron_scheduler=warn"));
    // Colour codes only for a person at a terminal, never into log files.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// Serves until SIGTERM or SIGINT, then stops gracefully; a second signal
/// ends the process at once.
async fn serve(config: authql::config::Config) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    let first = tokio_util::sync::CancellationToken::new();
    let signals = signals(first.clone());
    tokio::pin!(signals);
    tokio::select! {
        served = app.run_until(first.cancelled_owned()) => served,
        () = &mut signals => Err(anyhow::anyhow!("a second signal: stopped at once, with work unfinished")),
    }
}

/// Cancels `first` on the first SIGTERM or SIGINT; resolves on the second.
async fn signals(first: tokio_util::sync::CancellationToken) {
    #[cfg(unix)]
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    for heard in 0..2 {
        let ctrl_c = async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        #[cfg(unix)]
        let term = async {
            match terminate.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => {}
            () = term => {}
        }
        if heard == 0 {
            tracing::info!("shutting down (a second SIGTERM or SIGINT stops at once)");
            first.cancel();
        }
    }
}
