use clap::Parser;
use scim_server::cli::{Cli, Command};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(_) | Command::Migrate | Command::Tenant(_) | Command::Token(_) => {
            println!(
                "scim-server {}: the HTTP server is not built yet (issue 6); the libraries are.",
                env!("CARGO_PKG_VERSION")
            );
        }
    }
    Ok(())
}
