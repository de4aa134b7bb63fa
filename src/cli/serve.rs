//! `serve`: check everything a run needs before listening (config, signing key, database, schedule,
//! address), so that a mistake is a usage error at start and not a failed run at 02:00; then serve
//! until SIGTERM / SIGINT (see `crate::serve`).

use std::net::SocketAddr;
use std::path::Path;

use super::commands::{CliError, CmdResult, settings, signing_key};
use super::{Cli, ServeArgs};
use crate::pipeline::ReportSink;
use crate::serve::{self, Job, Schedule, ServeOptions};
use crate::store::Store;

pub fn serve(cli: &Cli, args: &ServeArgs) -> CmdResult {
    let schedule = Schedule::parse(&args.schedule).map_err(CliError::operational)?;
    let listen: SocketAddr = args.listen.parse().map_err(|e| {
        CliError::operational(format!(
            "--listen {:?}: {e} (give ADDRESS:PORT, e.g. 0.0.0.0:9464)",
            args.listen
        ))
    })?;
    let settings = settings(cli)?;
    let key = signing_key(&settings)?;
    let keyring = serve::reports::keyring(&settings, &key)?;
    let db = cli.db.clone().or_else(|| settings.database.clone()).ok_or_else(|| {
        CliError::operational("no database: give --db FILE (or ZONEAUDIT_DB) or set `database` in the config")
    })?;
    // Created and migrated now, like `run` would: /healthz and /metrics work before the first run.
    drop(Store::open(&db)?);
    let reports =
        args.reports.clone().unwrap_or_else(|| db.parent().unwrap_or(Path::new(".")).join("reports"));
    let job = Job { settings, key, keyring, db, sink: ReportSink { dir: reports } };
    let opts = ServeOptions { listen, schedule, grace: serve::DEFAULT_GRACE };
    let schedule_text = args.schedule.clone();
    super::commands::block_on(serve::serve(job, opts, |addr| {
        println!("zoneaudit serve: listening on http://{addr} (schedule {schedule_text:?}, UTC)");
    }))?;
    Ok(0)
}
