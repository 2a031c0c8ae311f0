//! The `rtcall-server` binary: reads settings, starts the service, stops on Ctrl-C or SIGTERM.

use clap::Parser;
use rtcall_server::config::{Cli, Config};
use rtcall_server::Server;
use std::io::IsTerminal;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("rtcall_server=info,tower_http=warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let config = match Config::from_cli(Cli::parse()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("rtcall-server: {e}");
            return ExitCode::from(2);
        }
    };
    let production = config.production;
    let data_dir = config.data_dir.clone();
    let server = match Server::bind(config).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("rtcall-server: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The banner goes to stdout, not the log: the connection string holds the access key and
    // must not end up in log collectors. In production it is only written to a private file.
    println!("rtcall-server listening on {}", server.public_url());
    if production {
        let path = data_dir.join("connection-string");
        if let Err(e) = write_private(&path, &server.connection_string()) {
            eprintln!("rtcall-server: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("connection string written to {}", path.display());
    } else {
        println!("connection string: {}", server.connection_string());
        println!("demo app: {}", server.public_url());
    }
    let media: Vec<String> = server.media_addrs().iter().map(|a| a.to_string()).collect();
    println!("media on udp {}", media.join(", "));
    match server.run(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rtcall-server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents.as_bytes())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return ctrl_c.await.unwrap_or(()),
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await.unwrap_or(());
}
