//! The command line (API.md "CLI of the `scim-server` binary"). Every flag also reads
//! an environment variable.

use clap::{Args, Parser, Subcommand};

/// Default SQLite database, relative to the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://scim-server.db";
/// Default listen address.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

/// SCIM 2.0 provisioning server for Microsoft Entra ID, Okta and any RFC 7644 client.
#[derive(Debug, Parser)]
#[command(name = "scim-server", version, about)]
pub struct Cli {
    /// Database URL: `sqlite://relative.db`, `sqlite:///absolute.db`, a plain path, or `postgres://...`.
    #[arg(long, global = true, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,

    /// The public base URL clients reach this server at; Tenant URLs and activation links start with it.
    #[arg(long, global = true, env = "SCIM_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Print one JSON object instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the database and serve SCIM and the admin API.
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// SCIM Secret Tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

/// Flags of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SCIM_BIND", default_value = DEFAULT_BIND)]
    pub bind: String,
    /// Bearer token for the admin API; without it the admin API answers 403.
    #[arg(long, env = "SCIM_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// SMTP relay for invitations, e.g. `smtp://127.0.0.1:2525` or `smtps://user:pass@host:465`.
    #[arg(long, env = "SCIM_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Sender address of invitation emails.
    #[arg(long, env = "SCIM_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// Key that signs Secret Tokens and activation links; default: generated once and kept in the database.
    #[arg(long, env = "SCIM_SIGNING_KEY", hide_env_values = true)]
    pub signing_key: Option<String>,
}

/// `tenant` subcommands.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and print its Tenant URL and Secret Token.
    Create {
        /// URL-safe identifier, part of the Tenant URL.
        slug: String,
        /// Display name of the organisation.
        #[arg(long)]
        name: Option<String>,
    },
    /// List tenants with their Tenant URLs.
    List,
}

/// `token` subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Generate a new Secret Token; the previous one stops working at once.
    Generate {
        /// The tenant's slug.
        slug: String,
    },
}
