//! Host paths a guest names (upstream's `RegisterResource.paths`): refused unless they lie
//! inside a directory the operator listed (`--allow-guest-paths`), and then only regular
//! files. URLs are never fetched.
//!
//! The check is made on the text first (absolute, no `..`, under a listed directory) and
//! the same refusal answers every path outside, so a guest cannot learn whether a host
//! file exists; only then is the path resolved, and a symbolic link leading out is
//! refused as well.

use super::Failure;
use std::path::{Component, Path, PathBuf};
use vaccel::code;

fn refused(path: &str) -> Failure {
    Failure::new(
        code::EPERM,
        format!(
            "resource path {path:?} is not in a directory the operator allows guests to name (see vaccel-agent --allow-guest-paths)"
        ),
    )
}

/// The host file a guest's `path` names, if the operator allows it.
///
/// # Errors
/// `EPERM` for URLs and for paths outside `allowed`; `ENOENT`/`EINVAL` for allowed paths
/// that are missing or not regular files.
pub(super) fn resolve(allowed: &[PathBuf], path: &str) -> Result<PathBuf, Failure> {
    if path.contains("://") {
        return Err(Failure::new(
            code::EPERM,
            format!("resource {path:?}: this agent never downloads URLs for guests"),
        ));
    }
    let p = Path::new(path);
    let plain = p.is_absolute()
        && p.components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    if !plain || !allowed.iter().any(|dir| p.starts_with(dir)) {
        return Err(refused(path));
    }
    let real = p.canonicalize().map_err(|e| {
        Failure::new(
            code::ENOENT,
            format!("resource path {path:?} cannot be opened: {e}"),
        )
    })?;
    if !allowed.iter().any(|dir| real.starts_with(dir)) {
        return Err(refused(path));
    }
    if !real.is_file() {
        return Err(Failure::new(
            code::EINVAL,
            format!("resource path {path:?} is not a regular file"),
        ));
    }
    Ok(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_inside_the_listed_directories_and_never_urls() {
        let dir = tempfile::tempdir().unwrap();
        let allowed = vec![dir.path().canonicalize().unwrap()];
        let inside = allowed[0].join("model.onnx");
        std::fs::write(&inside, b"m").unwrap();
        let s = |p: &Path| p.to_str().unwrap().to_string();
        assert_eq!(resolve(&allowed, &s(&inside)).unwrap(), inside);

        // Outside, relative, climbing out, or a URL: refused without looking at the disk,
        // the same way whether the file exists or not.
        for bad in [
            "/etc/passwd".to_string(),
            "/no/such/file".to_string(),
            "model.onnx".to_string(),
            format!("{}/../../etc/passwd", s(&allowed[0])),
        ] {
            let e = resolve(&allowed, &bad).unwrap_err();
            assert_eq!(e.code, code::EPERM, "{bad}");
            assert!(e.message.contains("--allow-guest-paths"), "{}", e.message);
        }
        let e = resolve(&allowed, "https://example.invalid/m.onnx").unwrap_err();
        assert_eq!(e.code, code::EPERM);
        assert!(e.message.contains("never downloads"), "{}", e.message);

        // A link inside that leads out is refused once resolved.
        let link = allowed[0].join("link");
        std::os::unix::fs::symlink("/etc/hostname", &link).unwrap();
        assert_eq!(resolve(&allowed, &s(&link)).unwrap_err().code, code::EPERM);
        // Inside but not a regular file, or missing.
        std::fs::create_dir(allowed[0].join("sub")).unwrap();
        assert_eq!(
            resolve(&allowed, &s(&allowed[0].join("sub")))
                .unwrap_err()
                .code,
            code::EINVAL
        );
        assert_eq!(
            resolve(&allowed, &s(&allowed[0].join("gone")))
                .unwrap_err()
                .code,
            code::ENOENT
        );
        // Nothing listed: everything refused.
        assert_eq!(resolve(&[], &s(&inside)).unwrap_err().code, code::EPERM);
    }
}
