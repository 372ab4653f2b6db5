//! Logging set-up from [`Config`]: level from `VACCEL_LOG_LEVEL`, output to stderr or to
//! `VACCEL_LOG_FILE-YYYY-MM-DD.log`. Logs go to stderr, not stdout as upstream does, so
//! they never mix with a program's own output.

use crate::config::Config;
use std::fs::OpenOptions;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::Level;

/// The `tracing` level for a vAccel log level (1 error … 4 debug).
pub fn level(log_level: u32) -> Level {
    match log_level {
        0 | 1 => Level::ERROR,
        2 => Level::WARN,
        3 => Level::INFO,
        _ => Level::DEBUG,
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `base-YYYY-MM-DD.log` for today (UTC).
pub fn log_file_name(base: &std::path::Path) -> PathBuf {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let mut s = base.as_os_str().to_owned();
    s.push(format!("-{y:04}-{m:02}-{d:02}.log"));
    PathBuf::from(s)
}

/// Install a global subscriber for `config` unless the process already has one (a Rust
/// application's own subscriber wins). Safe to call many times.
pub fn init(config: &Config) {
    if tracing::dispatcher::has_been_set() {
        return;
    }
    let builder = tracing_subscriber::fmt()
        .with_max_level(level(config.log_level))
        .with_target(false);
    let file = config.log_file.as_ref().and_then(|base| {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_file_name(base))
            .ok()
    });
    let result = match file {
        Some(f) => tracing::subscriber::set_global_default(
            builder.with_ansi(false).with_writer(Mutex::new(f)).finish(),
        ),
        None => {
            // Colour only for a person at a terminal, never in files, pipes or CI logs.
            let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            tracing::subscriber::set_global_default(
                builder
                    .with_ansi(ansi)
                    .with_writer(std::io::stderr)
                    .finish(),
            )
        }
    };
    let _ = result;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_are_right() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_415), (2025, 11, 23));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn log_file_name_appends_date() {
        let n = log_file_name(std::path::Path::new("/tmp/vaccel"));
        let s = n.to_string_lossy();
        assert!(
            s.starts_with("/tmp/vaccel-")
                && s.ends_with(".log")
                && s.len() == "/tmp/vaccel-2025-01-01.log".len(),
            "{s}"
        );
    }
}
