//! The command line contract of `docs/configuration.md`.

use clap::Parser;
use scim_server::cli::{Cli, Command, TenantCommand, TokenCommand};

#[test]
fn global_flags_stand_before_or_after_the_command() {
    let before = Cli::try_parse_from([
        "scim-server",
        "--database-url",
        "sqlite://x.db",
        "tenant",
        "create",
        "acme",
        "--name",
        "Acme",
    ])
    .unwrap();
    let after = Cli::try_parse_from([
        "scim-server",
        "token",
        "generate",
        "acme",
        "--database-url",
        "postgres://h/db",
        "--public-url",
        "https://scim.example.net",
    ])
    .unwrap();
    assert_eq!(before.database_url, "sqlite://x.db");
    assert!(matches!(
        before.command,
        Command::Tenant(TenantCommand::Create { ref slug, ref name }) if slug == "acme" && name.as_deref() == Some("Acme")
    ));
    assert_eq!(after.database_url, "postgres://h/db");
    assert_eq!(
        after.public_url.as_deref(),
        Some("https://scim.example.net")
    );
    assert!(
        matches!(after.command, Command::Token(TokenCommand::Generate { ref slug }) if slug == "acme")
    );
}

#[test]
fn serve_has_the_documented_flags() {
    let cli = Cli::try_parse_from([
        "scim-server",
        "serve",
        "--bind",
        "0.0.0.0:9000",
        "--admin-token",
        "a",
        "--smtp-url",
        "smtp://127.0.0.1:2525",
        "--mail-from",
        "scim@example.net",
        "--signing-key",
        "k",
    ])
    .unwrap();
    let Command::Serve(args) = cli.command else {
        panic!("not serve")
    };
    assert_eq!(args.bind, "0.0.0.0:9000");
    assert_eq!(args.smtp_url.as_deref(), Some("smtp://127.0.0.1:2525"));
    assert!(Cli::try_parse_from(["scim-server", "frobnicate"]).is_err());
}

#[test]
fn status_is_a_command_with_json_output() {
    let cli = Cli::try_parse_from(["scim-server", "status", "--json"]).unwrap();
    assert!(matches!(cli.command, Command::Status));
    assert!(cli.json);
}

#[test]
fn admin_create_takes_tenant_and_email() {
    use scim_server::cli::AdminCommand;
    let cli = Cli::try_parse_from([
        "scim-server",
        "admin",
        "create",
        "--tenant",
        "acme",
        "--email",
        "ann@acme.example",
        "--json",
    ])
    .unwrap();
    assert!(cli.json);
    assert!(matches!(
        cli.command,
        Command::Admin(AdminCommand::Create { ref tenant, ref email, send_email: false })
            if tenant == "acme" && email == "ann@acme.example"
    ));
    assert!(Cli::try_parse_from(["scim-server", "admin", "create", "--tenant", "acme"]).is_err());
}
