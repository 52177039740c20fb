//! Running a parsed command line: each command prints its report and
//! returns the process exit status.

use std::process::ExitCode;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::DatabaseConnection;
use sea_orm_migration::MigrationStatus;

use crate::config::{Cli, Command, MigrateAction, RoleArg, TokenAction, WebhookAction};
use crate::db::{DbOptions, connect, migrate_up, startup_lock};
use crate::error::Result;
use crate::progress::Progress;
use crate::seed::import::{Action, ImportOptions, ImportReport, import_corpus};
use crate::service::token::{self, Role};

/// Exit status for invalid input or a failure (nothing written).
pub const EXIT_FAILURE: u8 = 1;

/// The database options the global flags describe (the main pool's).
fn db_options(cli: &Cli) -> DbOptions {
    let mut options = DbOptions::new(&cli.database_url);
    options.max_connections = cli.db_max_connections;
    options.busy_timeout = Duration::from_millis(cli.db_busy_timeout_ms);
    options.acquire_timeout = Duration::from_millis(cli.db_acquire_timeout_ms);
    options.statement_timeout = cli.limits.statement_budget();
    options
}

async fn open(cli: &Cli) -> Result<DatabaseConnection> {
    connect(&db_options(cli)).await
}

/// Exit status for flags that parse one by one but not together (as clap
/// exits for a flag it refuses itself).
pub const EXIT_USAGE: u8 = 2;

/// Runs the command; errors are printed, never panicked.
pub async fn run(cli: Cli) -> ExitCode {
    if let Err(usage) = check(&cli) {
        // clap's own form: the message, the usage line, a pointer to --help.
        let _ = usage.print();
        return ExitCode::from(EXIT_USAGE);
    }
    crate::limits::install(cli.limits);
    match dispatch(&cli).await {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// Refuses, before anything is opened or written, flags that clap accepts
/// one by one but that do not go together.
fn check(cli: &Cli) -> std::result::Result<(), clap::Error> {
    use clap::CommandFactory;
    if let Command::Serve(args) = &cli.command
        && let Err(message) = args.webhooks.check()
    {
        let mut command = Cli::command();
        command.build();
        let mut serve = command.find_subcommand("serve").cloned().unwrap_or(command);
        return Err(serve.error(clap::error::ErrorKind::ArgumentConflict, message));
    }
    Ok(())
}

async fn dispatch(cli: &Cli) -> Result<u8> {
    match &cli.command {
        Command::Import {
            paths,
            dry_run,
            force,
            skip_invalid,
        } => {
            let db = open(cli).await?;
            migrate_up(&db).await?;
            let options = ImportOptions {
                paths: paths.clone(),
                dry_run: *dry_run,
                force: *force,
                skip_invalid: *skip_invalid,
                // Another process from any server: its changes are announced
                // to no one (see README, "Editing").
                changes: Default::default(),
            };
            let report = import_corpus(&db, &options, &Progress::for_stderr()).await?;
            print_import_report(&report, &options);
            Ok(report.exit_code())
        }
        Command::Export { dir } => {
            let db = open(cli).await?;
            migrate_up(&db).await?;
            let n = crate::seed::export::export_corpus(&db, dir, &Progress::for_stderr()).await?;
            println!("{n} articles exported to {}", dir.display());
            Ok(0)
        }
        Command::Serve(args) => {
            crate::server::serve(&db_options(cli), args, &cli.limits).await?;
            Ok(0)
        }
        Command::Schema => {
            print!("{}", crate::graphql::sdl());
            Ok(0)
        }
        Command::Token { action } => {
            let db = open(cli).await?;
            migrate_up(&db).await?;
            run_token(&db, action).await?;
            Ok(0)
        }
        Command::Webhook { action } => {
            let db = open(cli).await?;
            migrate_up(&db).await?;
            run_webhook(&db, action).await?;
            Ok(0)
        }
        Command::Migrate { action } => {
            // One connection: SQLite's pragmas and schema changes belong to
            // the connection that runs them, and a pool would spread a
            // migration's statements over several.
            let mut options = db_options(cli);
            options.max_connections = 1;
            let db = connect(&options).await?;
            migrate(&db, &options.url, *action).await?;
            Ok(0)
        }
    }
}

async fn run_token(db: &DatabaseConnection, action: &TokenAction) -> Result<()> {
    let now = chrono::Utc::now();
    match action {
        TokenAction::Create { name, role } => {
            let role = match role {
                RoleArg::Editor => Role::Editor,
                RoleArg::Admin => Role::Admin,
            };
            let secret = token::create(db, name, role, now).await?;
            println!(
                "token `{}` ({}) created; its secret is shown only now:",
                name.trim(),
                role.as_str()
            );
            println!("{secret}");
        }
        TokenAction::List => {
            for t in token::list(db).await? {
                let state = match t.revoked_at {
                    Some(at) => format!("revoked {}", at.format("%Y-%m-%d %H:%M")),
                    None => "active".to_owned(),
                };
                println!(
                    "{}\t{}\tcreated {}\t{state}",
                    t.name,
                    t.role,
                    t.created_at.format("%Y-%m-%d %H:%M")
                );
            }
        }
        TokenAction::Revoke { name } => {
            token::revoke(db, name, now).await?;
            println!("token `{name}` revoked");
        }
    }
    Ok(())
}

async fn run_webhook(db: &DatabaseConnection, action: &WebhookAction) -> Result<()> {
    use crate::service::webhook::worker::status;
    use crate::service::webhook::{self, Events};
    match action {
        WebhookAction::Add { url, events } => {
            let added = webhook::add(db, url, events, chrono::Utc::now()).await?;
            println!(
                "webhook {} added: {} gets {}; its signing secret is shown only now:",
                added.id,
                added.url,
                Events::from_stored(&added.events)
            );
            println!("{}", added.secret);
        }
        WebhookAction::List => {
            for w in webhook::list(db).await? {
                let count = |status: &str| w.deliveries.get(status).copied().unwrap_or(0);
                println!(
                    "{}\t{}\t{}\tcreated {}\t{} pending, {} delivered, {} failed",
                    w.id,
                    w.url,
                    w.events,
                    w.created_at.format("%Y-%m-%d %H:%M"),
                    count(status::PENDING),
                    count(status::DELIVERED),
                    count(status::FAILED),
                );
            }
        }
        WebhookAction::Remove { webhook: which } => {
            let removed = webhook::remove(db, which).await?;
            println!("webhook {} ({}) removed", removed.id, removed.url);
        }
    }
    Ok(())
}

async fn migrate(db: &DatabaseConnection, url: &str, action: MigrateAction) -> Result<()> {
    if let MigrateAction::Status = action {
        for m in Migrator::get_migration_with_status(db).await? {
            let state = match m.status() {
                MigrationStatus::Applied => "applied",
                MigrationStatus::Pending => "pending",
            };
            println!("{state:8} {}", m.name());
        }
        return Ok(());
    }
    // Under the lock a starting `serve` takes too (PostgreSQL), so a
    // migration never runs beside another instance's.
    let lock = startup_lock(url).await?;
    let migrated = async {
        match action {
            MigrateAction::Up => migrate_up(db).await,
            MigrateAction::Down => Ok(Migrator::down(db, Some(1)).await?),
            MigrateAction::Fresh => {
                // Reverting every migration drops tables children first; a
                // plain drop of every table trips SQLite's foreign-key checks.
                Migrator::down(db, None).await?;
                migrate_up(db).await
            }
            // Answered above, without the lock.
            MigrateAction::Status => Ok(()),
        }
    }
    .await;
    lock.release().await?;
    migrated?;
    let pending = Migrator::get_pending_migrations(db).await?.len();
    let applied = Migrator::get_applied_migrations(db).await?.len();
    println!("{applied} migrations applied, {pending} pending");
    Ok(())
}

fn print_import_report(report: &ImportReport, options: &ImportOptions) {
    for problem in &report.problems {
        eprintln!("{problem}");
    }
    let verb = |now: &'static str, would: &'static str| if options.dry_run { would } else { now };
    for p in &report.plan {
        match &p.action {
            Action::Conflict(reason) => eprintln!(
                "{}: conflict: {reason}, and the file changed; left as it is (rerun with --force to apply the file)",
                p.path
            ),
            Action::Force(reason) => eprintln!(
                "{}: {} over editors' changes: {reason}",
                p.path,
                verb("applied", "would apply")
            ),
            Action::Create if options.dry_run => {
                println!("{}: would create article {}", p.path, p.id)
            }
            Action::Update if options.dry_run => {
                println!("{}: would update article {}", p.path, p.id)
            }
            Action::Unchanged if options.dry_run => {
                println!("{}: unchanged, would be left", p.path)
            }
            _ => {}
        }
    }
    if report.problems.is_empty() {
        // Nothing to add.
    } else if !report.written && !options.dry_run {
        eprintln!(
            "nothing was written: fix the files above, or rerun with --skip-invalid to write the valid ones"
        );
    } else if options.skip_invalid && !options.dry_run {
        eprintln!("{} invalid file(s) skipped", report.invalid_files);
    }
    let prefix = if options.dry_run { "dry run: " } else { "" };
    println!("{prefix}{}", report.summary());
}
