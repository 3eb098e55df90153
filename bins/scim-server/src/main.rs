use clap::Parser;

fn main() -> anyhow::Result<()> {
    scim_server::run(scim_server::cli::Cli::parse())
}
