//! Configuration from the environment, with upstream vAccel's variable names and their
//! deprecated aliases.

use crate::error::{Error, Result};
use std::path::PathBuf;

/// Runtime configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Plugins to load, in priority order: paths / sonames of shared objects, or names of
    /// built-in plugins (`VACCEL_PLUGINS`, alias `VACCEL_BACKENDS`, `:`-separated).
    pub plugins: Vec<String>,
    /// 1 error, 2 warn, 3 info, 4 debug (`VACCEL_LOG_LEVEL`, alias `VACCEL_DEBUG_LEVEL`).
    pub log_level: u32,
    /// Log file base name; `-YYYY-MM-DD.log` is appended (`VACCEL_LOG_FILE`). Default: stderr.
    pub log_file: Option<PathBuf>,
    /// Record per-op timings (`VACCEL_PROFILING_ENABLED`).
    pub profiling_enabled: bool,
    /// Accept plugins whose version differs (`VACCEL_VERSION_IGNORE`, alias
    /// `VACCEL_IGNORE_VERSION`); the ABI major check always applies.
    pub version_ignore: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            plugins: Vec::new(),
            log_level: 1,
            log_file: None,
            profiling_enabled: false,
            version_ignore: false,
        }
    }
}

fn parse_bool(var: &'static str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(Error::Config {
            var,
            value: value.into(),
            reason: "expected 1/0, true/false, yes/no or on/off".into(),
        }),
    }
}

impl Config {
    /// Read the process environment strictly.
    ///
    /// # Errors
    /// [`Error::Config`] naming the variable with a bad value.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Read the process environment as upstream does: a bad value is reported and its
    /// default applies (the caller logs the reports once logging is set up).
    pub fn from_env_lenient() -> (Self, Vec<Error>) {
        Self::from_lookup_lenient(|k| std::env::var(k).ok())
    }

    /// [`Config::from_lookup`], leniently: each variable with a bad value is left at its
    /// default and its error returned beside the config.
    pub fn from_lookup_lenient(get: impl Fn(&str) -> Option<String>) -> (Self, Vec<Error>) {
        let mut c = Config::default();
        let mut bad = Vec::new();
        // Each variable on its own, so one bad value costs only its own setting.
        for names in Self::VARIABLES {
            let one = |k: &str| names.contains(&k).then(|| get(k)).flatten();
            match Self::from_lookup(one) {
                Ok(only) => c.merge(&only, names),
                Err(e) => bad.push(e),
            }
        }
        (c, bad)
    }

    /// The variables, each with its aliases.
    const VARIABLES: &[&[&str]] = &[
        &["VACCEL_PLUGINS", "VACCEL_BACKENDS"],
        &["VACCEL_LOG_LEVEL", "VACCEL_DEBUG_LEVEL"],
        &["VACCEL_LOG_FILE"],
        &["VACCEL_PROFILING_ENABLED"],
        &["VACCEL_VERSION_IGNORE", "VACCEL_IGNORE_VERSION"],
    ];

    /// Take from `other` the setting the variable `names[0]` controls.
    fn merge(&mut self, other: &Config, names: &[&str]) {
        match names[0] {
            "VACCEL_PLUGINS" => self.plugins.clone_from(&other.plugins),
            "VACCEL_LOG_LEVEL" => self.log_level = other.log_level,
            "VACCEL_LOG_FILE" => self.log_file.clone_from(&other.log_file),
            "VACCEL_PROFILING_ENABLED" => self.profiling_enabled = other.profiling_enabled,
            _ => self.version_ignore = other.version_ignore,
        }
    }

    /// Read configuration through `get` (the environment, or a map in tests).
    ///
    /// # Errors
    /// [`Error::Config`] naming the variable with a bad value.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let first = |names: &[&'static str]| names.iter().find_map(|n| get(n).map(|v| (*n, v)));
        let mut c = Config::default();
        if let Some((_, v)) = first(&["VACCEL_PLUGINS", "VACCEL_BACKENDS"]) {
            c.plugins = v
                .split(':')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
        }
        if let Some((var, v)) = first(&["VACCEL_LOG_LEVEL", "VACCEL_DEBUG_LEVEL"]) {
            c.log_level = match v.trim().parse::<u32>() {
                Ok(n @ 1..=4) => n,
                _ => {
                    return Err(Error::Config {
                        var,
                        value: v,
                        reason: "expected 1 (error), 2 (warn), 3 (info) or 4 (debug)".into(),
                    });
                }
            };
        }
        if let Some((_, v)) = first(&["VACCEL_LOG_FILE"])
            && !v.trim().is_empty()
        {
            c.log_file = Some(PathBuf::from(v));
        }
        if let Some((var, v)) = first(&["VACCEL_PROFILING_ENABLED"]) {
            c.profiling_enabled = parse_bool(var, &v)?;
        }
        if let Some((var, v)) = first(&["VACCEL_VERSION_IGNORE", "VACCEL_IGNORE_VERSION"]) {
            c.version_ignore = parse_bool(var, &v)?;
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        Config::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_when_unset() {
        assert_eq!(cfg(&[]).unwrap(), Config::default());
    }

    #[test]
    fn plugins_split_on_colon_and_alias_works() {
        let c = cfg(&[("VACCEL_BACKENDS", "/a/libx.so: noop ::")]).unwrap();
        assert_eq!(c.plugins, vec!["/a/libx.so", "noop"]);
        let c = cfg(&[("VACCEL_PLUGINS", "exec"), ("VACCEL_BACKENDS", "noop")]).unwrap();
        assert_eq!(
            c.plugins,
            vec!["exec"],
            "the current name wins over the alias"
        );
    }

    #[test]
    fn lenient_reading_keeps_the_good_values_and_reports_the_bad() {
        let m: HashMap<String, String> = [
            ("VACCEL_LOG_LEVEL", "7"),
            ("VACCEL_PROFILING_ENABLED", "1"),
            ("VACCEL_VERSION_IGNORE", "maybe"),
            ("VACCEL_PLUGINS", "exec"),
        ]
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
        let (c, bad) = Config::from_lookup_lenient(|k| m.get(k).cloned());
        assert_eq!(c.log_level, Config::default().log_level);
        assert!(c.profiling_enabled);
        assert!(!c.version_ignore);
        assert_eq!(c.plugins, vec!["exec"]);
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert!(bad[0].to_string().starts_with("VACCEL_LOG_LEVEL=\"7\""));
    }

    #[test]
    fn log_level_is_checked() {
        assert_eq!(cfg(&[("VACCEL_DEBUG_LEVEL", "4")]).unwrap().log_level, 4);
        let e = cfg(&[("VACCEL_LOG_LEVEL", "7")]).unwrap_err();
        assert_eq!(e.code(), 22);
        assert!(e.to_string().starts_with("VACCEL_LOG_LEVEL=\"7\""), "{e}");
    }

    #[test]
    fn booleans_parse() {
        assert!(
            cfg(&[("VACCEL_PROFILING_ENABLED", "yes")])
                .unwrap()
                .profiling_enabled
        );
        assert!(
            !cfg(&[("VACCEL_PROFILING_ENABLED", "0")])
                .unwrap()
                .profiling_enabled
        );
        assert!(cfg(&[("VACCEL_PROFILING_ENABLED", "maybe")]).is_err());
        assert!(
            cfg(&[("VACCEL_IGNORE_VERSION", "1")])
                .unwrap()
                .version_ignore
        );
    }
}
